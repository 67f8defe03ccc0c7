"""Two-domain datasets for image-to-image translation, paired and unpaired, as ordinary ``ImageDataset``s.

A two-domain dataset stacks domain A's channels and then domain B's in one uint8 NCHW tensor
(``extra["domains"] = (channels_a, channels_b)``), so the engine batches, shuffles, resumes and shards it like
any other dataset and a translation model splits the channels. Specs:

- ``pairs:NAME~TRANSFORM``: A is TRANSFORM of each image of dataset NAME, B the image (edges -> photo and the
  like). Transforms: ``edges`` (Canny), ``blur`` (Gaussian, sigma 2), ``down`` (4x smaller, enlarged back
  bilinearly), ``grey`` (luminance; A has one channel), ``holes`` (random grey rectangles).
- ``pairs:folder:DIR_A,DIR_B``: images with the same file name (without suffix) in two folders.
- ``unpaired:SPEC_A,SPEC_B``: two datasets, each ``NAME`` or ``NAME[CLASS,...]`` (classes by index or name),
  e.g. ``unpaired:fashion-mnist[7],fashion-mnist[9]`` (sneaker <-> ankle boot). Each item pairs an A image with a
  random B image (the smaller domain repeated in shuffled rounds), so every image of both domains is used; the
  pairing carries no meaning.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, InputError
from ..image import LUMA, image_files
from .base import DatasetSpec, ImageDataset, load_dataset, register, resize_uint8
from .sources import load_folder

TRANSFORMS = ("edges", "blur", "down", "grey", "holes")


def _transform(images: torch.Tensor, name: str, seed: int) -> torch.Tensor:
    """uint8 NCHW -> the A domain of ``pairs:NAME~name``."""
    from scipy.ndimage import gaussian_filter
    from skimage.feature import canny

    array = images.numpy().astype(np.float32) / 255
    if name == "edges":
        grey = array.mean(axis=1)
        out = np.stack([canny(image, sigma=1.0) for image in grey])[:, None].astype(np.float32)
    elif name == "blur":
        out = gaussian_filter(array, sigma=(0, 0, 2, 2))
    elif name == "down":
        small = torch.nn.functional.interpolate(torch.from_numpy(array), scale_factor=0.25, mode="area")
        out = torch.nn.functional.interpolate(small, size=tuple(images.shape[-2:]), mode="bilinear").numpy()
    elif name == "grey":
        weights = LUMA[: array.shape[1]]
        out = (np.tensordot(weights / weights.sum(), array, axes=([0], [1])))[:, None]
    elif name == "holes":
        rng = np.random.default_rng(seed)
        out = array.copy()
        height, width = array.shape[-2:]
        for image in out:
            h, w = rng.integers(height // 4, height // 2 + 1), rng.integers(width // 4, width // 2 + 1)
            top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
            image[:, top : top + h, left : left + w] = 0.5
    else:
        raise InputError(f"unknown pair transform {name!r}; valid: {', '.join(TRANSFORMS)}")
    return torch.from_numpy(np.round(np.clip(out, 0, 1) * 255).astype(np.uint8))


def _stack(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b], dim=1)


def _two_domain(name: str, train: tuple, test: tuple) -> ImageDataset:
    dataset = ImageDataset(name=name, train_images=_stack(*train), test_images=_stack(*test), kind="pairs")
    dataset.extra["domains"] = (int(train[0].shape[1]), int(train[1].shape[1]))
    return dataset


def load_pairs(argument: str, *, image_size: int | None = None) -> ImageDataset:
    if argument.startswith("folder:"):
        return _paired_folders(argument[len("folder:") :], image_size)
    source, tilde, transform = argument.partition("~")
    if not tilde or not source:
        raise InputError(
            f"pairs:{argument}: expected pairs:NAME~TRANSFORM ({', '.join(TRANSFORMS)}) or pairs:folder:A,B"
        )
    if transform not in TRANSFORMS:
        raise InputError(f"pairs:{argument}: unknown pair transform {transform!r}; valid: {', '.join(TRANSFORMS)}")
    data = load_dataset(source, image_size=image_size)
    return _two_domain(
        f"pairs:{argument}",
        (_transform(data.train_images, transform, 0), data.train_images),
        (_transform(data.test_images, transform, 1), data.test_images),
    )


def _paired_folders(argument: str, image_size: int | None) -> ImageDataset:
    folders = argument.split(",")
    if len(folders) != 2 or not all(folders):
        raise InputError(f"pairs:folder:{argument}: expected two folders, pairs:folder:DIR_A,DIR_B")
    stems = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise DataError(f"{root}: no such folder")
        stems.append({p.stem: p for p in image_files(root, recursive=False)})
    only_a, only_b = sorted(set(stems[0]) - set(stems[1])), sorted(set(stems[1]) - set(stems[0]))
    if only_a or only_b:
        detail = (
            f"only in {folders[0]}: {', '.join(only_a[:3])}"
            if only_a
            else f"only in {folders[1]}: {', '.join(only_b[:3])}"
        )
        raise DataError(f"pairs:folder:{argument}: file names do not match ({detail})")
    # load_folder sorts the files by name and splits them by their count alone, so equal names give aligned splits
    a = load_folder(folders[0], image_size=image_size)
    b = load_folder(folders[1], image_size=a.image_size)
    return _two_domain(f"pairs:folder:{argument}", (a.train_images, b.train_images), (a.test_images, b.test_images))


_SELECTION = re.compile(r"^(?P<name>[^\[\]]+?)(\[(?P<classes>[^\[\]]+)\])?$")


def _domain(spec: str, image_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    match = _SELECTION.match(spec.strip())
    if not match:
        raise InputError(f"unpaired: {spec!r} is not NAME or NAME[CLASS,...]")
    data = load_dataset(match["name"], image_size=image_size)
    if not match["classes"]:
        return data.train_images, data.test_images
    if data.train_labels is None or not data.class_names:
        raise InputError(f"unpaired: {match['name']} has no classes to select from")
    wanted = []
    for item in match["classes"].split(","):
        item = item.strip()
        if item.isdigit() and int(item) < len(data.class_names):
            wanted.append(int(item))
        elif item in data.class_names:
            wanted.append(data.class_names.index(item))
        else:
            raise InputError(
                f"unpaired: {match['name']} has no class {item!r}; valid: 0..{len(data.class_names) - 1} or "
                f"{', '.join(data.class_names)}"
            )
    keep_train = torch.isin(data.train_labels, torch.tensor(wanted))
    keep_test = torch.isin(data.test_labels, torch.tensor(wanted))
    return data.train_images[keep_train], data.test_images[keep_test]


def _pair_up(a: torch.Tensor, b: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair every A with a B and every B with an A: the smaller domain repeated in shuffled rounds."""
    count = max(len(a), len(b))
    generator = torch.Generator().manual_seed(seed)

    def rounds(images):
        order = torch.cat([torch.randperm(len(images), generator=generator) for _ in range(-(-count // len(images)))])
        return images[order[:count]]

    return rounds(a), rounds(b)


def load_unpaired(argument: str, *, image_size: int | None = None) -> ImageDataset:
    parts = re.split(r",(?![^\[]*\])", argument)  # commas outside brackets
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError(
            f"unpaired:{argument}: expected unpaired:SPEC_A,SPEC_B (e.g. fashion-mnist[7],fashion-mnist[9])"
        )
    (train_a, test_a), (train_b, test_b) = (_domain(part, image_size) for part in parts)
    for split, a, b in (("train", train_a, train_b), ("test", test_a, test_b)):
        if not len(a) or not len(b):
            raise DataError(f"unpaired:{argument}: a domain has no {split} images")
    if train_a.shape[-2:] != train_b.shape[-2:]:
        side = max(train_a.shape[-1], train_b.shape[-1])
        train_a, test_a, train_b, test_b = (resize_uint8(x, side) for x in (train_a, test_a, train_b, test_b))
    return _two_domain(f"unpaired:{argument}", _pair_up(train_a, train_b, 0), _pair_up(test_a, test_b, 1))


register(
    DatasetSpec(
        "pairs:",
        f"paired domains: pairs:NAME~TRANSFORM ({', '.join(TRANSFORMS)}) or pairs:folder:DIR_A,DIR_B",
        load_pairs,
        lambda: "made from another dataset or your folders",
        lambda: True,
        "as its source",
        argument="NAME~TRANSFORM",
        kind="pairs",
    )
)
register(
    DatasetSpec(
        "unpaired:",
        "unpaired domains: unpaired:SPEC_A,SPEC_B, a SPEC being NAME or NAME[CLASS,...]",
        load_unpaired,
        lambda: "made from other datasets",
        lambda: True,
        "as its sources",
        argument="A,B",
        kind="pairs",
    )
)
