"""What every generative model offers the engine, and the registry of models by name.

Three layers (see STYLE.md): networks are plain ``nn.Module``s that map tensors; a *method* (this module's
``GenerativeModel``) owns its loss, sampling and model-specific metrics; the engine (``imsynth.train``) owns
optimisers, precision, EMA, checkpoints and processes. A method with several optimisers (a GAN) overrides
``optimizer_groups`` and ``train_step``; the engine does not change.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

import torch
from torch import nn
from tqdm import tqdm

from ..config import from_dict
from ..errors import ConfigError, InputError
from ..image import check_allocation
from ..runtime.runs import load_weights_into
from ..runtime.train_config import TrainConfig
from ..tables import Table
from .capabilities import IterativeSampler

Noise = Callable[[tuple[int, ...]], torch.Tensor]


@dataclass
class DataShape:
    """Fields every model config carries, filled from the dataset at training time."""

    channels: int = 1
    image_size: int = 28
    num_classes: int = 0
    dataset_size: int = 0
    conditional: bool = False  # class-conditional: needs a labelled dataset (num_classes >= 2)

    # what ``imsynth tune`` searches by default: "field" or "train.field" -> {"low", "high"[, "log"]} or
    # {"choices": [...]}; a family with none cannot be tuned without --space
    search_space: ClassVar[dict] = {}
    # what a field missing from a saved run's config meant when that run was written: for options added later
    # whose default is not the old behaviour, so older runs load as they were trained
    absent_in_older_runs: ClassVar[dict] = {}


@dataclass
class LossOutput:
    """A training objective: ``loss`` to minimise and named parts (detached) to log."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


class StepContext(Protocol):
    """What the engine hands to ``train_step``: everything a step may use, so no family copies the engine."""

    step: int

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal noise keyed on (seed, step, call) for this process's rows of the global batch."""

    def uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Uniform [0, 1) noise with the same keying."""

    def autocast(self):
        """The run's precision context (bf16 autocast or nothing)."""

    def backward_step(self, group: str, loss: torch.Tensor) -> None:
        """Backward, average across processes, clip, schedule the learning rate and step ``group``'s optimiser."""


class GenerativeModel(nn.Module):
    """Base of every method. Subclasses set ``config_class`` and implement ``loss`` and ``sample``."""

    config_class: ClassVar[type]
    registered_name: ClassVar[str] = ""
    modality: ClassVar[str] = "images"  # "text": trains on a TextDataset, makes sentences (imsynth.models.text)
    # what the family can do, declared (names in imsynth.models.capabilities.CAPABILITIES); actions read it
    capabilities: ClassVar[frozenset[str]] = frozenset()
    # the other families whose runs this one can start from (``imsynth train --init RUN``; see ``start_from``),
    # each with the settings (as --set takes them, before the user's own) that such a start was measured to need
    starts_from: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType({})

    def __init__(self, config) -> None:
        super().__init__()
        if config.conditional and config.num_classes < 2:
            raise ConfigError(
                f"a class-conditional {type(self).__name__} needs a dataset with labels (at least 2 "
                f"classes); this one has {config.num_classes or 'none'}"
            )
        self.config = config

    def start_from(
        self, family: str, tensors: dict[str, torch.Tensor], source, model_config: dict | None = None
    ) -> None:
        """Take the weights of a run of ``family`` (this one's own, or one of ``starts_from``) before training;
        ``model_config`` is that run's saved model config, for families whose weights it shapes."""
        load_weights_into(self, tensors, source)

    # -- training ---------------------------------------------------------------------------------
    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        """The objective on a batch; ``noise``/``uniform`` draw normal/uniform noise of a shape (the engine's
        (seed, step)-keyed ones in training, so resumed and multi-process runs see the same numbers)."""
        raise NotImplementedError

    def optimizer_groups(self) -> dict[str, dict[str, Any]]:
        """Named parameter groups, one optimiser each; a dict may override ``lr``/``betas``."""
        return {"model": {"params": [p for p in self.parameters() if p.requires_grad]}}

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context: StepContext) -> dict:
        """One optimisation step; returns the values to log. Override for alternating updates."""
        with context.autocast():
            output = self.loss(images, labels, step=context.step, noise=context.randn, uniform=context.uniform)
        context.backward_step("model", output.loss)
        return {"loss": output.loss.detach(), **output.parts}

    @property
    def batches_per_step(self) -> int:
        """Training batches one ``train_step`` consumes (the engine hands them over concatenated)."""
        return 1

    def ema_parameter_names(self) -> set[str] | None:
        """Parameters the engine keeps an EMA of (None: all)."""
        return None

    def training_state(self) -> dict[str, torch.Tensor]:
        """Tensors that training needs to resume exactly but inference does not (a CycleGAN's pool of past
        fakes): saved in the resume checkpoint, never in ``model.safetensors``."""
        return {}

    def load_training_state(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what ``training_state`` returned (an empty dict for a checkpoint written without it)."""

    def advice(self, logged: dict, step: int) -> str | None:
        """Called with each logged row; a message here is written to the log once (a warning, not a rollback)."""
        return None

    def health(self, logged: dict) -> str | None:
        """Called with each logged row; a message here makes the engine's guard roll back (collapse signals)."""
        return None

    def preview(self, dataset, count: int) -> tuple[torch.Tensor, int | None]:
        """What the engine draws into ``samples/`` during training: (images NCHW in [-1, 1], images per row).
        Default: ``count`` samples from fixed seeds; a translation model shows its test inputs translated."""
        labels = self.class_labels(count, layout="rows")
        return self.generate(count, seed=1234, labels=labels, progress=False), self.grid_columns(count)

    # -- using the model --------------------------------------------------------------------------
    def sample(
        self, count: int, *, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``count`` new images, NCHW in [-1, 1]."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(
        self,
        count: int,
        *,
        seed: int = 0,
        labels: torch.Tensor | None = None,
        batch_size: int | None = None,
        sampling: dict | None = None,
        progress: bool | None = None,
    ) -> torch.Tensor:
        """``count`` samples (NCHW [-1, 1], on the CPU) drawn in chunks on the model's device, the one way every
        application generates (evaluation, FID tracking, ``sample``, ``augment``). ``labels`` default to the
        classes in turn for a conditional model. ``sampling`` passes sampler options (``sampler``, ``steps``,
        ``eta``, ``guidance``) to models that sample iteratively; a progress bar shows on a terminal for them."""
        if count < 1:
            raise InputError(f"need at least one sample, got -n {count}")
        config = self.config
        check_allocation(count * config.channels * config.image_size**2, where=f"{count} samples")
        sampling = {k: v for k, v in (sampling or {}).items() if v is not None}
        iterative = isinstance(self, IterativeSampler)
        if sampling and not iterative:
            raise InputError(
                f"--{'/--'.join(sampling)} apply to diffusion runs; model {self.registered_name!r} samples in one pass"
            )
        labels = self.check_labels(labels, count)
        batch_size = batch_size or self.sample_batch_size
        generator = torch.Generator().manual_seed(seed)
        show = iterative and sys.stderr.isatty() if progress is None else progress
        chunks = []
        with tqdm(total=count, desc="sampling", unit="img", disable=not show) as bar:
            for start in range(0, count, batch_size):
                part = None if labels is None else labels[start : start + batch_size]
                size = min(batch_size, count - start)
                chunks.append(self.sample(size, labels=part, generator=generator, **sampling).float().cpu())
                bar.update(size)
        return torch.cat(chunks)

    sample_batch_size: ClassVar[int] = 500

    @property
    def conditional(self) -> bool:
        return bool(self.config.conditional)

    def class_labels(self, count: int, *, class_index: int | None = None, layout: str = "cycle") -> torch.Tensor | None:
        """The one class-label layout helper: None for an unconditional model; ``class_index`` repeated; else
        ``cycle`` (0, 1, 2, ..., 0, 1, ...: balanced sets) or ``rows`` (blocks of count // classes, one grid row
        per class)."""
        if class_index is not None:
            return self.check_labels(torch.tensor([class_index]), 1).expand(count).clone()
        if not self.conditional:
            return None
        classes = self.config.num_classes
        if layout == "cycle":
            return torch.arange(count) % classes
        if layout == "rows":
            return (torch.arange(count) // max(1, count // classes)) % classes
        raise InputError(f"unknown label layout {layout!r}; valid: cycle, rows")

    def grid_columns(self, count: int, class_index: int | None = None) -> int | None:
        """Images per grid row: one row per class for a conditional model's ``rows`` layout."""
        if self.conditional and class_index is None and count >= self.config.num_classes:
            return count // self.config.num_classes
        return None

    def check_images(self, shape: tuple[int, ...]) -> None:
        """Refuse images whose (C, H, W) ``shape`` is not what the model makes (one message for every use)."""
        config = self.config
        expected = (config.channels, config.image_size, config.image_size)
        if tuple(shape) != expected:
            got = f"{shape[0]}-channel {shape[2]}x{shape[1]}" if len(shape) == 3 else f"shape {tuple(shape)}"
            raise InputError(
                f"model {self.registered_name!r} works on {expected[0]}-channel {expected[2]}x{expected[1]} images; "
                f"got {got}: resize or convert them first"
            )

    def check_labels(self, labels: torch.Tensor | None, count: int) -> torch.Tensor | None:
        """Validate class labels for a conditional model (and refuse them for an unconditional one)."""
        if not self.conditional:
            if labels is not None:
                raise InputError(f"model {self.registered_name!r} is not class-conditional; drop --class")
            return None
        classes = self.config.num_classes
        if labels is None:
            return torch.arange(count) % classes
        if isinstance(labels, torch.Tensor) and labels.is_floating_point():
            raise InputError("class labels must be integers")
        labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
        if labels.numel() == 1 and count > 1:
            labels = labels.expand(count)
        if len(labels) != count:
            raise InputError(f"got {len(labels)} labels for {count} images")
        outside = labels[(labels < 0) | (labels >= classes)]
        if len(outside):
            raise InputError(f"class must be in 0..{classes - 1}, got {int(outside[0])}")
        return labels


@dataclass(frozen=True)
class ModelEntry:
    """A row of the model table: the method class, its config defaults and training defaults under one name,
    and ``tiny``: overrides that make the smallest sensible model (the contract test trains every entry so).
    ``data``: "images" (one domain), "pairs" (two domains stacked on the channel axis, imsynth.data.pairs) or
    "text" (token rows of a TextDataset, imsynth.data.text)."""

    name: str
    model_class: type[GenerativeModel]
    defaults: dict
    description: str
    train_defaults: dict = field(default_factory=dict)
    tiny: dict = field(default_factory=dict)
    data: str = "images"
    space: dict | None = None  # this name's search space where it differs from its config family's

    @property
    def search_space(self) -> dict:
        return dict(self.model_class.config_class.search_space if self.space is None else self.space)

    @property
    def options(self) -> tuple:
        return ()

    def default_config(self):
        return dataclasses.replace(self.model_class.config_class(), **self.defaults)

    def default_train_config(self) -> TrainConfig:
        """The engine's TrainConfig with this model's training defaults (a GAN's schedule, FID tracking)."""
        return dataclasses.replace(TrainConfig(), **self.train_defaults)


MODEL_REGISTRY: Table[ModelEntry] = Table("model", sort=True)


def register_model(
    name: str,
    *,
    description: str,
    train_defaults: dict | None = None,
    tiny: dict | None = None,
    data: str = "images",
    search_space: dict | None = None,
    **defaults,
):
    """Register ``cls`` under ``name`` with config defaults (several names may share one class)."""

    def decorate(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        entry = ModelEntry(
            name, cls, defaults, description, dict(train_defaults or {}), dict(tiny or {}), data, search_space
        )
        MODEL_REGISTRY.add(entry)
        return cls

    return decorate


def get_entry(name: str) -> ModelEntry:
    return MODEL_REGISTRY.get(name)


def build_model(name: str, config=None) -> GenerativeModel:
    entry = get_entry(name)
    config = entry.default_config() if config is None else config
    if isinstance(config, dict):
        config = from_dict(entry.model_class.config_class, config, where=f"model {name}")
    try:
        model = entry.model_class(config)
    except (RuntimeError, MemoryError) as error:
        if isinstance(error, RuntimeError) and "allocate" not in str(error):
            raise
        # torch refuses the allocation before making it: say which settings to lower
        raise ConfigError(
            f"model {name}: its weights do not fit in this machine's memory ({str(error)[-80:].strip()}); "
            "lower width / latent_dim / image size"
        ) from None
    model.registered_name = name
    return model


def fit_config_to_data(config, *, channels: int, image_size: int, num_classes: int, dataset_size: int):
    """Copy the dataset's shape into the data fields of a model config."""
    return dataclasses.replace(
        config, channels=channels, image_size=image_size, num_classes=num_classes, dataset_size=dataset_size
    )


def config_for_dataset(config, dataset):
    """``config`` with the data fields of ``dataset`` (an ``ImageDataset``: channels, size, classes, train size;
    for a two-domain dataset also the input domain's channels, where the config has ``channels_a``)."""
    config = fit_config_to_data(
        config,
        channels=dataset.channels,
        image_size=dataset.image_size,
        num_classes=dataset.num_classes or 0,
        dataset_size=len(dataset.train_images),
    )
    fields = {f.name for f in dataclasses.fields(config)}
    if "domains" in dataset.extra and "channels_a" in fields:
        config = dataclasses.replace(config, channels_a=dataset.extra["domains"][0])
    if dataset.kind == "clips" and "frames" in fields:
        config = dataclasses.replace(config, frames=dataset.frames)
    if "vocab_size" in dataset.extra and "vocab_size" in fields:
        config = dataclasses.replace(config, vocab_size=dataset.extra["vocab_size"])
    return config


def require(condition: bool, message: str) -> None:
    """Config validation in ``__post_init__``: raise ConfigError when ``condition`` is false."""
    if not condition:
        raise ConfigError(message)
