"""The datasets that exist on a machine with no internet: bundled, packaged, or the user's own files."""

from __future__ import annotations

import gzip
import os
import subprocess
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from ..image import READABLE_SUFFIXES, fit_square, image_files, load_image
from .base import DatasetSpec, ImageDataset, register, split_indices

# ---------------------------------------------------------------------------------------------- digits


def load_digits(*, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Values are counts 0..16 of set pixels in 4x4 blocks; scale to the full uint8 range.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    train, test = split_indices(len(images), 0.2, seed=0)
    return ImageDataset(
        name="digits",
        train_images=torch.from_numpy(images[train]),
        test_images=torch.from_numpy(images[test]),
        train_labels=torch.from_numpy(labels[train]),
        test_labels=torch.from_numpy(labels[test]),
        class_names=[str(d) for d in range(10)],
    )


register(
    DatasetSpec(
        "digits",
        "scikit-learn's bundled handwritten digits, 8x8 grey, 10 classes",
        load_digits,
        lambda: "bundled with scikit-learn",
        lambda: True,
        "1,437 train / 360 test, 8x8x1",
    )
)

# ------------------------------------------------------------------------------------- fashion-mnist

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FASHION_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def fashion_candidates() -> list[Path]:
    """Folders searched for the Fashion-MNIST IDX files, in order."""
    candidates = []
    if os.environ.get("IMSYNTH_DATA"):
        candidates.append(Path(os.environ["IMSYNTH_DATA"]) / "fashion-mnist")
    candidates.append(Path("/usr/share/datasets/fashion-mnist"))
    return candidates


@lru_cache(maxsize=1)
def _dpkg_fashion_folder() -> Path | None:
    try:
        listing = subprocess.run(
            ["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listing.splitlines():
        if line.endswith(FASHION_FILES["train_images"]):
            return Path(line).parent
    return None


def find_fashion() -> Path | None:
    folders = fashion_candidates()
    dpkg_folder = _dpkg_fashion_folder() if not any(_has_fashion(f) for f in folders) else None
    if dpkg_folder:
        folders.append(dpkg_folder)
    return next((folder for folder in folders if _has_fashion(folder)), None)


def _has_fashion(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FASHION_FILES.values())


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped IDX file (the MNIST format) into a uint8 array."""
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable gzip IDX file ({error})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated IDX file ({body.size} bytes for shape {dims})")
    return body.reshape(dims)


def load_fashion(*, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    folder = find_fashion()
    if folder is None:
        raise DataError(f"dataset 'fashion-mnist' is not available here: {fashion_where()}")
    arrays = {key: read_idx(folder / name) for key, name in FASHION_FILES.items()}
    return ImageDataset(
        name="fashion-mnist",
        train_images=torch.from_numpy(arrays["train_images"][:, None].copy()),
        test_images=torch.from_numpy(arrays["test_images"][:, None].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        class_names=list(FASHION_CLASSES),
    )


def fashion_where() -> str:
    folder = find_fashion()
    if folder:
        return str(folder)
    looked = ", ".join(str(f) for f in fashion_candidates())
    return (
        f"looked in {looked}; install it with `apt-get install dataset-fashion-mnist` or put the four "
        f"IDX .gz files in $IMSYNTH_DATA/fashion-mnist"
    )


register(
    DatasetSpec(
        "fashion-mnist",
        "Zalando's Fashion-MNIST, 28x28 grey, 10 classes",
        load_fashion,
        fashion_where,
        lambda: find_fashion() is not None,
        "60,000 train / 10,000 test, 28x28x1",
    )
)

# ------------------------------------------------------------------------------------------ folder:


def load_folder(path: str, *, image_size: int | None = None) -> ImageDataset:
    """Every image under ``path`` (recursive). Sub-folder names become class labels when there are any.

    Images of mixed sizes are fitted to ``image_size`` (default: the most common short side, capped at
    64) by resizing the short side and cropping the centre; mixed modes become RGB if any image has
    colour, grey otherwise. A corrupt file is an error naming it.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no image files found (looked for {', '.join(sorted(READABLE_SUFFIXES))})")
    pictures = [load_image(file) for file in files]
    colour = any(p.ndim == 3 for p in pictures)
    if image_size is None:
        image_size = min(64, Counter(min(p.shape[:2]) for p in pictures).most_common(1)[0][0])
    arrays = []
    for picture in pictures:
        if colour and picture.ndim == 2:
            picture = np.repeat(picture[..., None], 3, axis=2)
        elif picture.ndim == 3:
            picture = picture[..., :3]  # alpha is dropped: models see opaque images
        pil = Image.fromarray(np.round(picture * 255).astype(np.uint8))
        fitted = np.asarray(fit_square(pil, image_size))
        arrays.append(fitted if fitted.ndim == 3 else fitted[..., None])
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    relative_parents = [f.parent.relative_to(root) for f in files]
    class_names = sorted({str(p) for p in relative_parents if str(p) != "."})
    labels = None
    if class_names and len(class_names) > 1:
        lookup = {name: index for index, name in enumerate(class_names)}
        labels = torch.tensor([lookup.get(str(p), 0) for p in relative_parents], dtype=torch.int64)
    else:
        class_names = None
    train, test = split_indices(len(images), 0.1, seed=0)
    if len(test) == 0:
        test = train
    return ImageDataset(
        name=f"folder:{root}",
        train_images=images[train],
        test_images=images[test],
        train_labels=None if labels is None else labels[train],
        test_labels=None if labels is None else labels[test],
        class_names=class_names,
    )


register(
    DatasetSpec(
        "folder:",
        "any folder of images (recursive; sub-folders are classes)",
        load_folder,
        lambda: "your own files",
        lambda: True,
        "yours",
    )
)

# --------------------------------------------------------------------------------------------- npz:


def _as_uint8_nchw(array: np.ndarray, path: Path, key: str) -> torch.Tensor:
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise DataError(f"{path}: array {key!r} must be NxHxW or NxHxWxC with C in (1, 3), got shape {array.shape}")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise DataError(f"{path}: array {key!r} must be uint8 or float in [0, 1], got {array.dtype}")
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1 or np.isnan(array).any()):
            raise DataError(f"{path}: float array {key!r} must hold values in [0, 1]")
        array = np.round(array * 255).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))


def load_npz(path: str, *, image_size: int | None = None) -> ImageDataset:
    """An .npz holding ``images`` (or ``x``; NxHxW[xC], uint8 or float [0,1]) and optional ``labels``
    (or ``y``). ``images_test``/``labels_test`` give a test split; otherwise 10% is held out. ``clean`` and
    ``clean_test`` (the undamaged originals ``imsynth corrupt`` writes) go to ``extra`` as uint8 NCHW."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such .npz file")
    try:
        archive = np.load(file, allow_pickle=False)
        contents = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{file}: not a readable .npz archive ({error})") from None
    image_key = next((k for k in ("images", "x", "x_train") if k in contents), None)
    if image_key is None:
        raise DataError(f"{file}: no 'images' array (found: {', '.join(contents) or 'nothing'})")
    images = _as_uint8_nchw(contents[image_key], file, image_key)
    label_key = next((k for k in ("labels", "y", "y_train") if k in contents), None)
    labels = torch.from_numpy(contents[label_key].astype(np.int64)) if label_key else None
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{file}: {len(labels)} labels for {len(images)} images")
    test_key = next((k for k in ("images_test", "x_test") if k in contents), None)
    if test_key:
        test_images = _as_uint8_nchw(contents[test_key], file, test_key)
        test_label_key = next((k for k in ("labels_test", "y_test") if k in contents), None)
        test_labels = torch.from_numpy(contents[test_label_key].astype(np.int64)) if test_label_key else None
        train_images, train_labels = images, labels
    else:
        train, test = split_indices(len(images), 0.1, seed=0)
        test = test if len(test) else train
        train_images, test_images = images[train], images[test]
        train_labels = None if labels is None else labels[train]
        test_labels = None if labels is None else labels[test]
    class_names = None
    if labels is not None:
        class_names = [str(i) for i in range(int(labels.max()) + 1)] if len(labels) else None
    extra = {}
    if "clean" in contents:
        clean = _as_uint8_nchw(contents["clean"], file, "clean")
        clean_test = _as_uint8_nchw(contents["clean_test"], file, "clean_test") if "clean_test" in contents else None
        if test_key and clean_test is not None:
            extra["clean_train"], extra["clean_test"] = clean, clean_test
        elif not test_key:
            extra["clean_train"], extra["clean_test"] = clean[train], clean[test]
        for split, damaged in (("train", train_images), ("test", test_images)):
            if f"clean_{split}" in extra and extra[f"clean_{split}"].shape != damaged.shape:
                raise DataError(f"{file}: clean originals do not match the {split} images in shape")
    return ImageDataset(
        name=f"npz:{file}",
        extra=extra,
        train_images=train_images,
        test_images=test_images,
        train_labels=train_labels,
        test_labels=test_labels,
        class_names=class_names,
    )


register(
    DatasetSpec(
        "npz:",
        "an .npz archive with an 'images' array and optional 'labels'",
        load_npz,
        lambda: "your own file",
        lambda: True,
        "yours",
    )
)
