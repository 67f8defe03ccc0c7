"""The models' image convention and its conversions: torch NCHW float in [-1, 1] <-> numpy HxWxC [0, 1] and uint8.

Every conversion between the two conventions goes through these helpers (apps never permute by hand).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..image import save_grid

__all__ = [
    "from_model",
    "numpy_to_tensor",
    "pad_to_multiple",
    "save_tensor_grid",
    "tensor_to_image",
    "tensor_to_numpy",
    "tensor_to_uint8",
    "to_model",
    "uint8_to_nhwc",
]


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


def tensor_to_image(tensor: torch.Tensor, like: np.ndarray) -> np.ndarray:
    """One (1, C, H, W) or (C, H, W) tensor in [-1, 1] -> a numpy image in [0, 1] shaped like ``like`` (HxW stays HxW)."""
    return tensor_to_numpy(tensor)[0].reshape(np.shape(like)).astype(np.float32)


def tensor_to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """NCHW tensor in [-1, 1] -> NxHxWxC uint8."""
    return np.round(tensor_to_numpy(tensor) * 255.0).astype(np.uint8)


def uint8_to_nhwc(images: torch.Tensor) -> np.ndarray:
    """uint8 NCHW tensor -> uint8 NxHxWxC array (for files)."""
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def to_model(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW in [0, 255] -> float32 NCHW in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def from_model(images: torch.Tensor) -> torch.Tensor:
    """float NCHW in [-1, 1] -> uint8 NCHW."""
    return ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def save_tensor_grid(path: str | os.PathLike, images: torch.Tensor, *, nrow: int | None = None, scale: int = 1):
    """Save NCHW [-1, 1] images as one grid picture."""
    return save_grid(path, tensor_to_numpy(images), nrow=nrow, scale=scale)


def pad_to_multiple(images: torch.Tensor, multiple: int) -> torch.Tensor:
    """NCHW images padded at the bottom and right, edges repeated, to sides that are multiples of ``multiple``
    (crop the result back with ``[..., :height, :width]``). Repeating the edge works for any size, 1x1 included."""
    height, width = images.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    return F.pad(images, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else images


def tiles(image: torch.Tensor, side: int) -> torch.Tensor:
    """(1, C, H, W) of any size -> (T, C, side, side) tiles (edges replicated), row-major; ``untile`` inverts."""
    grid = pad_to_multiple(image, side).unfold(2, side, side).unfold(3, side, side)  # 1, C, rows, cols, s, s
    return grid[0].permute(1, 2, 0, 3, 4).reshape(-1, image.shape[1], side, side)


def untile(pieces: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(T, C, s, s) tiles, row-major, -> the (1, C, H, W) image of ``size`` they were cut from."""
    side = pieces.shape[-1]
    rows, cols = -(-size[0] // side), -(-size[1] // side)
    grid = pieces.reshape(rows, cols, pieces.shape[1], side, side).permute(2, 0, 3, 1, 4)
    return grid.reshape(1, pieces.shape[1], rows * side, cols * side)[..., : size[0], : size[1]]
