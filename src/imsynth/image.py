"""The one place that converts between image representations and touches image files.

Representations:
- numpy: float32, HxW or HxWxC, values in [0, 1] (classical methods).
- torch: float NCHW, values in [-1, 1] (models).
- PIL images (files).

Files are read with Pillow with the decompression-bomb limit kept on and EXIF orientation applied, and
every file is written atomically (temporary file in the same folder, then rename), so a crash never leaves a
half-written output behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from .errors import ImageError, InputError

__all__ = [
    "atomic_path",
    "to_float",
    "numpy_to_tensor",
    "tensor_to_numpy",
    "tensor_to_uint8",
    "to_pil",
    "load_image",
    "save_image",
    "make_grid",
    "save_grid",
    "save_gif",
]


_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should follow the user's umask
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def to_float(image: np.ndarray) -> np.ndarray:
    """Explicitly convert a uint8/uint16/bool/float image to float32 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.floating):
        return image.astype(np.float32, copy=False)
    raise InputError(f"unsupported image dtype {image.dtype}; expected uint8, uint16, bool or float")


def numpy_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxW or HxWxC float [0,1] (or NxHxWxC) -> float NCHW tensor in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[None, :, :, None]
    elif array.ndim == 3:
        array = array[None]
    elif array.ndim != 4:
        raise InputError(f"expected HxW, HxWxC or NxHxWxC, got shape {array.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)
    return tensor * 2.0 - 1.0


def tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """NCHW (or CHW) tensor in [-1, 1] -> NxHxWxC float32 in [0, 1] (clipped)."""
    if tensor.ndim == 3:
        tensor = tensor[None]
    if tensor.ndim != 4:
        raise InputError(f"expected a CHW or NCHW tensor, got shape {tuple(tensor.shape)}")
    array = ((tensor.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0)
    return array.permute(0, 2, 3, 1).numpy()


def tensor_to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """NCHW tensor in [-1, 1] -> NxHxWxC uint8."""
    return np.round(tensor_to_numpy(tensor) * 255.0).astype(np.uint8)


def to_pil(image: np.ndarray) -> Image.Image:
    """HxW or HxWxC (C in 1, 3, 4) float [0,1] or uint8 array -> PIL image."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.round(np.clip(to_float(array), 0.0, 1.0) * 255.0).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"cannot make a picture of an array of shape {array.shape}")
    return Image.fromarray(array)


def load_image(path: str | os.PathLike, *, mode: str | None = None) -> np.ndarray:
    """Read an image file as float32 in [0, 1], HxW (grey) or HxWxC.

    EXIF orientation is applied. ``mode`` ('L', 'RGB', 'RGBA') converts; by default grey stays HxW,
    palette/other modes become RGB (or RGBA when they carry transparency).
    Raises ``ImageError`` naming the file for missing, empty, corrupt, truncated or oversized images.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns before the hard limit; treat any bomb warning as an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                picture = ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"{path}: image too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None
    if mode is None:
        if picture.mode in ("L", "I;16", "I", "F", "1"):
            mode = "L"
        elif picture.mode in ("RGBA", "LA") or "transparency" in picture.info:
            mode = "RGBA"
        else:
            mode = "RGB"
    picture = picture.convert(mode)
    return np.asarray(picture, dtype=np.float32) / 255.0


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an HxW or HxWxC float [0,1] / uint8 array atomically; the format follows the suffix."""
    path = Path(path)
    picture = to_pil(image)
    with atomic_path(path) as tmp:
        picture.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


def make_grid(images: np.ndarray | torch.Tensor, *, nrow: int | None = None, padding: int = 2,
              pad_value: float = 1.0) -> np.ndarray:
    """Tile N images into one HxWxC float [0,1] array.

    ``images``: NxHxWxC numpy in [0,1] or an NCHW tensor in [-1,1]. ``nrow`` is images per row
    (default: about square).
    """
    if isinstance(images, torch.Tensor):
        images = tensor_to_numpy(images)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    count, height, width, channels = images.shape
    if count == 0:
        raise InputError("cannot make a grid of zero images")
    nrow = nrow or max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / nrow)
    grid = np.full((rows * (height + padding) + padding, nrow * (width + padding) + padding, channels),
                   pad_value, dtype=np.float32)
    for index in range(count):
        top = padding + (index // nrow) * (height + padding)
        left = padding + (index % nrow) * (width + padding)
        grid[top:top + height, left:left + width] = images[index]
    return grid


def save_grid(path: str | os.PathLike, images: np.ndarray | torch.Tensor, *, nrow: int | None = None,
              scale: int = 1) -> Path:
    """Save a grid of images; ``scale`` enlarges small images with nearest-neighbour for viewing."""
    grid = make_grid(images, nrow=nrow)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return save_image(path, grid)


def save_gif(path: str | os.PathLike, frames: Sequence[np.ndarray], *, duration_ms: float = 80.0,
             loop: int = 0) -> Path:
    """Write frames (HxW or HxWxC, float [0,1] or uint8) as an animated GIF.

    ``duration_ms`` is the time each frame shows, in milliseconds.
    """
    if len(frames) == 0:
        raise InputError("cannot write a GIF with no frames")
    import imageio.v3 as iio

    path = Path(path)
    pictures = [np.asarray(to_pil(frame)) for frame in frames]
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, pictures, extension=".gif", duration=duration_ms, loop=loop)
    return path
