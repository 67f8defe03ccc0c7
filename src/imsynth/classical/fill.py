"""The simplest fills: a constant, the mean of the known pixels, or the nearest known pixel.

All take ``image`` (float HxW or HxWxC in [0, 1]) and ``mask`` (bool HxW, True = hole) and return a new
float32 array whose known pixels equal the input's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._checks import channels_last, check_hole, check_image


def fill_constant(image, mask, value: float | tuple[float, ...] = 0.5) -> np.ndarray:
    """Paint the hole with ``value`` (one number, or one per channel)."""
    image = check_image(image)
    mask = check_hole(image, mask, needs_known=False)
    planes = channels_last(image)
    value = np.broadcast_to(np.asarray(value, dtype=np.float32), (planes.shape[2],))
    out = planes.copy()
    out[mask] = value
    return out.reshape(image.shape)


def fill_mean(image, mask) -> np.ndarray:
    """Paint the hole with the per-channel mean of the known pixels."""
    image = check_image(image)
    mask = check_hole(image, mask)
    planes = channels_last(image)
    return fill_constant(image, mask, tuple(planes[~mask].mean(axis=0)))


def fill_nearest(image, mask) -> np.ndarray:
    """Copy each hole pixel from its nearest known pixel (Euclidean; one exact distance transform)."""
    image = check_image(image)
    mask = check_hole(image, mask)
    _, (rows, cols) = ndimage.distance_transform_edt(mask, return_indices=True)
    return image[rows, cols].astype(np.float32)
