"""Entry checks shared by the classical functions: float images in [0, 1], HxW or HxWxC, and their masks."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..masks import check_mask


def check_image(image, *, where: str = "image", min_side: int = 2) -> np.ndarray:
    """A float HxW or HxWxC array with finite values, at least ``min_side`` pixels each way (returned as float32,
    no copy when it already is). Integer arrays are refused: convert them with ``imsynth.image.to_float``."""
    array = np.asarray(image)
    if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
        raise InputError(
            f"{where}: got an integer array ({array.dtype}); classical functions take floats in [0, 1] "
            "(convert with imsynth.image.to_float)"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{where}: unsupported dtype {array.dtype}; expected float in [0, 1]")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise InputError(f"{where}: expected HxW or HxWxC with C in 1..4, got shape {array.shape}")
    if min(array.shape[:2]) < min_side:
        raise InputError(
            f"{where}: image is {array.shape[1]}x{array.shape[0]}; need at least {min_side}x{min_side} pixels"
        )
    if not np.isfinite(array).all():
        raise InputError(f"{where}: image holds NaN or infinite values")
    return array.astype(np.float32, copy=False)


def check_hole(image: np.ndarray, mask, *, where: str = "mask", needs_known: bool = True) -> np.ndarray:
    """A boolean HxW hole for ``image``; a full hole is an error for methods that fill from known pixels."""
    return check_mask(mask, image.shape, where=where, allow_full=not needs_known)


def channels_last(image: np.ndarray) -> np.ndarray:
    """HxW -> HxWx1 view (HxWxC unchanged), so algorithms handle one layout."""
    return image[:, :, None] if image.ndim == 2 else image
