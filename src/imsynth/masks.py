"""Masks: boolean HxW arrays, True = unknown (the hole). On disk a PNG whose nonzero pixels are the hole."""

from __future__ import annotations

import os

import numpy as np

from .errors import InputError
from .image import load_image


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image: any nonzero pixel (in any channel) is part of the hole."""
    pixels = load_image(path)
    return pixels.any(axis=2) if pixels.ndim == 3 else pixels > 0


def check_mask(
    mask: np.ndarray, image_shape: tuple[int, ...], *, where: str = "mask", allow_full: bool = False
) -> np.ndarray:
    """Validate a mask against an image's shape: 2-D, the same height and width, not the whole image."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"{where}: a mask must be 2-D (HxW), got shape {mask.shape}")
    if mask.shape != tuple(image_shape[:2]):
        raise InputError(
            f"{where}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but the image is {image_shape[1]}x{image_shape[0]}"
        )
    mask = mask.astype(bool)
    if mask.all() and not allow_full:
        raise InputError(f"{where}: the mask covers the whole image; nothing is known to fill from")
    return mask
