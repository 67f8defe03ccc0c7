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


def mask_from_strokes(layers: list[np.ndarray]) -> np.ndarray:
    """A mask from brush strokes: RGBA layers (HxWx4, any dtype) as a paint program gives them; True wherever a
    layer is not fully transparent. No stroke at all is an error rather than an empty mask."""
    if not layers:
        raise InputError("paint the hole with the brush first (no strokes)")
    shapes = {np.asarray(layer).shape[:2] for layer in layers}
    if len(shapes) != 1:
        raise InputError(f"the stroke layers differ in size: {sorted(shapes)}")
    mask = np.zeros(shapes.pop(), dtype=bool)
    for layer in layers:
        layer = np.asarray(layer)
        mask |= (
            layer[:, :, 3] > 0
            if layer.ndim == 3 and layer.shape[2] == 4
            else layer.reshape(mask.shape + (-1,)).any(axis=2)
        )
    if not mask.any():
        raise InputError("paint the hole with the brush first (the strokes are empty)")
    return mask
