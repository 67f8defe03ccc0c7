"""What every generative model offers the engine, and the registry of models by name.

Three layers (see STYLE.md): networks are plain ``nn.Module``s that map tensors; a *method* (this module's
``GenerativeModel``) owns its loss, sampling and model-specific metrics; the engine (``imsynth.train``) owns
optimisers, precision, EMA, checkpoints and processes. A method with several optimisers (a GAN) overrides
``optimizer_groups`` and ``train_step``; the engine does not change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Protocol

import torch
from torch import nn

from ..config import from_dict
from ..errors import ConfigError, InputError

Noise = Callable[[tuple[int, ...]], torch.Tensor]


@dataclass
class DataShape:
    """Fields every model config carries, filled from the dataset at training time."""

    channels: int = 1
    image_size: int = 28
    num_classes: int = 0
    dataset_size: int = 0


@dataclass
class LossOutput:
    """A training objective: ``loss`` to minimise and named parts (detached) to log."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


class StepContext(Protocol):
    """What the engine hands to ``train_step``."""

    step: int

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor: ...

    def autocast(self): ...

    def backward_step(self, group: str, loss: torch.Tensor) -> None: ...


class GenerativeModel(nn.Module):
    """Base of every method. Subclasses set ``config_class`` and implement ``loss`` and ``sample``."""

    config_class: ClassVar[type]
    registered_name: ClassVar[str] = ""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config

    # -- training ---------------------------------------------------------------------------------
    def loss(self, images: torch.Tensor, labels: torch.Tensor | None = None, *, step: int = 0,
             noise: Noise | None = None) -> LossOutput:
        raise NotImplementedError

    def optimizer_groups(self) -> dict[str, dict[str, Any]]:
        """Named parameter groups, one optimiser each; a dict may override ``lr``/``betas``."""
        return {"model": {"params": [p for p in self.parameters() if p.requires_grad]}}

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context: StepContext) -> dict:
        """One optimisation step; returns the values to log. Override for alternating updates."""
        with context.autocast():
            output = self.loss(images, labels, step=context.step, noise=context.randn)
        context.backward_step("model", output.loss)
        return {"loss": output.loss.detach(), **output.parts}

    @property
    def batches_per_step(self) -> int:
        """Training batches one ``train_step`` consumes (the engine hands them over concatenated)."""
        return 1

    def ema_parameter_names(self) -> set[str] | None:
        """Parameters the engine keeps an EMA of (None: all)."""
        return None

    def health(self, logged: dict) -> str | None:
        """Called with each logged row; a message here makes the engine's guard roll back (collapse signals)."""
        return None

    # -- using the model --------------------------------------------------------------------------
    def sample(self, count: int, *, labels: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` new images, NCHW in [-1, 1]."""
        raise NotImplementedError

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None = None, **options) -> dict:
        """Model-specific metrics on held-out images in [-1, 1] (e.g. ELBO, NLL)."""
        return {}

    @property
    def conditional(self) -> bool:
        return False

    def check_labels(self, labels: torch.Tensor | None, count: int) -> torch.Tensor | None:
        """Validate class labels for a conditional model (and refuse them for an unconditional one)."""
        if not self.conditional:
            if labels is not None:
                raise InputError(f"model {self.registered_name!r} is not class-conditional; drop --class")
            return None
        classes = self.config.num_classes
        if labels is None:
            return torch.arange(count) % classes
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
    name: str
    model_class: type[GenerativeModel]
    defaults: dict
    description: str
    train_defaults: dict = field(default_factory=dict)

    def default_config(self):
        return dataclasses.replace(self.model_class.config_class(), **self.defaults)

    def default_train_config(self):
        """The engine's TrainConfig with this model's training defaults (a GAN's schedule, FID tracking)."""
        from ..train import TrainConfig

        return dataclasses.replace(TrainConfig(), **self.train_defaults)


MODEL_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, description: str, train_defaults: dict | None = None, **defaults):
    """Register ``cls`` under ``name`` with config defaults (several names may share one class)."""

    def decorate(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        MODEL_REGISTRY[name] = ModelEntry(name, cls, defaults, description, dict(train_defaults or {}))
        return cls

    return decorate


def get_entry(name: str) -> ModelEntry:
    if name not in MODEL_REGISTRY:
        raise InputError(f"unknown model {name!r}; valid: {', '.join(sorted(MODEL_REGISTRY))}")
    return MODEL_REGISTRY[name]


def build_model(name: str, config=None) -> GenerativeModel:
    entry = get_entry(name)
    config = entry.default_config() if config is None else config
    if isinstance(config, dict):
        config = from_dict(entry.model_class.config_class, config, where=f"model {name}")
    model = entry.model_class(config)
    model.registered_name = name
    return model


def fit_config_to_data(config, *, channels: int, image_size: int, num_classes: int, dataset_size: int):
    """Copy the dataset's shape into the data fields of a model config."""
    return dataclasses.replace(config, channels=channels, image_size=image_size, num_classes=num_classes,
                               dataset_size=dataset_size)


def require(condition: bool, message: str) -> None:
    """Config validation in ``__post_init__``: raise ConfigError when ``condition`` is false."""
    if not condition:
        raise ConfigError(message)
