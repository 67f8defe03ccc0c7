"""In-memory image datasets and the registry that finds them by name.

Every dataset here fits in memory, so it is held as uint8 NCHW tensors and batches are cut by indexing:
no DataLoader workers, no per-item Python. ``to_model`` turns a uint8 batch into the models' float
[-1, 1] convention.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import parse_qsl

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, InputError
from ..runtime.tensors import from_model, to_model  # noqa: F401  (the datasets' uint8 <-> models' [-1, 1])
from ..tables import Table


@dataclass
class ImageDataset:
    """Train and test splits as uint8 NCHW tensors, with optional integer labels.

    ``factors_train``/``factors_test`` hold integer factor indices (N x K) for procedurally generated data
    whose generative factors are known (``shapes``).
    """

    name: str
    train_images: torch.Tensor
    test_images: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    factors_train: torch.Tensor | None = None
    factors_test: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)
    kind: str = "images"  # one of DATA_KINDS, as its DatasetSpec declares
    factor_source: Factors | None = None  # the generator of data whose factors are known (``shapes``)

    # what a row of train_images/test_images is: its dtype, its number of axes, and how the message names them
    row_dtype: ClassVar[torch.dtype] = torch.uint8
    row_axes: ClassVar[int] = 4
    rows_are: ClassVar[str] = "images must be uint8 NCHW"

    def __post_init__(self) -> None:
        for split, rows in (("train", self.train_images), ("test", self.test_images)):
            if rows.dtype != self.row_dtype or rows.ndim != self.row_axes:
                raise DataError(f"{self.name}: {split} {self.rows_are}, got {rows.dtype} {tuple(rows.shape)}")
        if len(self.train_images) == 0:
            raise DataError(f"{self.name}: the train split is empty")

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[2])

    def to_batch(self, raw: torch.Tensor) -> torch.Tensor:
        """Stored rows -> what models train on (images: float [-1, 1])."""
        return to_model(raw)


def resize_uint8(images: torch.Tensor, size: int, *, chunk: int = 4096) -> torch.Tensor:
    """Resize square uint8 images (... x C x H x W: NCHW, or clips N x T x C x H x W) to ``size`` x ``size``
    (antialiased bilinear when shrinking)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    lead, planes = images.shape[:-3], images.shape[-3:]
    flat = images.reshape(-1, *planes)
    out = []
    for start in range(0, len(flat), chunk):
        part = flat[start : start + chunk].float()
        part = F.interpolate(
            part, size=(size, size), mode="bilinear", align_corners=False, antialias=size < images.shape[-1]
        )
        out.append(part.round_().clamp_(0, 255).to(torch.uint8))
    resized = torch.cat(out) if out else flat.new_zeros((0, planes[0], size, size))
    return resized.reshape(*lead, planes[0], size, size)


def int_options(spec: str, options: str, defaults: dict[str, int]) -> dict[str, int]:
    """The integer options after a generated dataset's ``?`` (``a=1&b=2``), over ``defaults``; an unknown key or a
    value that is not an integer is refused, naming the dataset."""
    values = dict(defaults)
    for key, value in parse_qsl(options, keep_blank_values=True):
        if key not in defaults:
            raise InputError(f"{spec}: unknown option {key!r}; valid: {', '.join(defaults)}")
        try:
            values[key] = int(value)
        except ValueError:
            raise InputError(f"{spec}: {key} must be an integer, got {value!r}") from None
    return values


def split_indices(count: int, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic random train/test split of ``range(count)``."""
    order = np.random.default_rng(seed).permutation(count)
    n_test = max(1, int(round(count * test_fraction))) if count > 1 else 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


DATA_KINDS = ("images", "pairs", "text", "clips")


@dataclass(frozen=True)
class Factors:
    """A generator of images from known factor indices: what disentanglement metrics draw from, any factor held
    fixed. ``render`` maps N x len(sizes) integer indices to uint8 N x C x H x W images."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    render: Callable[[np.ndarray], np.ndarray]

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random factor indices (count x len(sizes))."""
        return np.stack([rng.integers(0, size, count) for size in self.sizes], axis=1)


@dataclass(frozen=True)
class DatasetSpec:
    """How to find, describe and load one named dataset (or a ``prefix:`` family)."""

    name: str
    description: str
    loader: Callable[..., ImageDataset]
    where: Callable[[], str]
    available: Callable[[], bool]
    size: str
    options: tuple = ()
    argument: str = "PATH"  # what follows a prefix spec's colon, as shown in lists
    kind: str = "images"  # what its datasets hold, one of DATA_KINDS: the models that train on it say the same

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"dataset {self.name}: kind {self.kind!r} is not one of {DATA_KINDS}")

    @property
    def shown_name(self) -> str:
        return self.name + (self.argument if self.name.endswith(":") else "")


REGISTRY: Table[DatasetSpec] = Table("dataset", sort=True)


def register(spec: DatasetSpec) -> DatasetSpec:
    return REGISTRY.add(spec)


def load_dataset(name: str, *, image_size: int | None = None, limit: int | None = None, tokenizer=None) -> ImageDataset:
    """Load a dataset by name: a registered name, ``folder:PATH`` or ``npz:PATH``.

    ``image_size`` resizes every image to a square of that side; ``limit`` keeps the first ``limit``
    train and test images (handy for quick runs and tests). Text datasets (``text:PATH``, ``fortunes``) take
    options after ``?`` and ``tokenizer``: a trained ``tokenizers.Tokenizer`` to use instead of training one
    (a run's own); they have no image size.
    """
    if image_size is not None and image_size < 4:
        raise InputError(f"--image-size must be at least 4, got {image_size}")
    prefix, _, argument = name.partition(":")
    text = {"tokenizer": tokenizer} if tokenizer is not None else {}
    bare, _, options = name.partition("?")
    if argument and prefix + ":" in REGISTRY:
        spec = REGISTRY.get(prefix + ":")
        dataset = spec.loader(argument, image_size=image_size, **text)
    elif bare in REGISTRY and not bare.endswith(":"):
        spec = REGISTRY.get(bare)
        if not spec.available():
            raise DataError(f"dataset {bare!r} is not available here: {spec.where()}")
        dataset = spec.loader(*([options] if options else []), image_size=image_size, limit=limit, **text)
    else:
        valid = ", ".join(sorted(spec.shown_name for spec in REGISTRY))
        raise InputError(f"unknown dataset {name!r}; valid: {valid}")
    if dataset.kind != spec.kind:  # a loader that disagrees with its declaration is a bug, not a user's mistake
        raise AssertionError(f"dataset {spec.name} declares {spec.kind} but loaded {dataset.kind}")
    if limit is not None:
        dataset = limit_dataset(dataset, limit)
    if dataset.kind == "text":  # token rows: no image side to fit
        return dataset
    if image_size is not None:
        dataset.train_images = resize_uint8(dataset.train_images, image_size)
        dataset.test_images = resize_uint8(dataset.test_images, image_size)
        for key in ("clean_train", "clean_test"):
            if key in dataset.extra:
                dataset.extra[key] = resize_uint8(dataset.extra[key], image_size)
    return dataset


def limit_dataset(dataset: ImageDataset, limit: int) -> ImageDataset:
    def cut(tensor):
        return None if tensor is None else tensor[:limit]

    dataset.train_images, dataset.test_images = cut(dataset.train_images), cut(dataset.test_images)
    dataset.train_labels, dataset.test_labels = cut(dataset.train_labels), cut(dataset.test_labels)
    dataset.factors_train, dataset.factors_test = cut(dataset.factors_train), cut(dataset.factors_test)
    for key in ("clean_train", "clean_test"):
        if key in dataset.extra:
            dataset.extra[key] = cut(dataset.extra[key])
    return dataset
