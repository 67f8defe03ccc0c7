"""Resampling (resizing) with one pixel-centre convention and anti-aliased downscaling.

Convention: pixel i covers [i, i + 1) and its centre is i + 0.5 (as in OpenCV, Pillow and PyTorch's
``align_corners=False``). Resizing n -> m pixels maps output centre j + 0.5 to source position
(j + 0.5) * n / m; samples beyond the border repeat the edge pixel.

Methods: ``nearest``; ``bilinear`` (triangle), ``bicubic`` (Keys, a = -0.5), ``lanczos`` (a = 3) — when shrinking
these kernels are widened by n / m, so each output pixel averages everything it covers (anti-aliasing, as
Pillow does); ``area``: each output pixel is the exact area-weighted mean of the source pixels its box
overlaps. The resize is separable: one sparse weight matrix per axis. Results are clipped to [0, 1] (bicubic and
Lanczos overshoot at edges).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..image import check_pixels
from ..tables import Table, method
from ._checks import channels_last, check_image


def _triangle(x):
    return np.clip(1 - np.abs(x), 0, None)


def _keys_cubic(x, a=-0.5):
    x = np.abs(x)
    return np.where(
        x < 1, (a + 2) * x**3 - (a + 3) * x**2 + 1, np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0)
    )


def _lanczos3(x):
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


KERNELS = {"bilinear": (_triangle, 1.0), "bicubic": (_keys_cubic, 2.0), "lanczos": (_lanczos3, 3.0)}


def resampling_matrix(source: int, target: int, method: str) -> sparse.csr_matrix:
    """The (target, source) matrix that resamples one axis; each row sums to 1."""
    RESAMPLING.get(method)
    ratio = source / target  # source pixels per target pixel
    centres = (np.arange(target) + 0.5) * ratio  # in source coordinates, pixel i spans [i, i + 1)
    if method == "nearest":
        cols = np.minimum(np.floor(centres).astype(np.int64), source - 1)
        return sparse.csr_matrix((np.ones(target), (np.arange(target), cols)), shape=(target, source))
    if method == "area":
        starts, ends = np.arange(target) * ratio, (np.arange(target) + 1) * ratio
        first, last = np.floor(starts).astype(np.int64), np.minimum(np.ceil(ends).astype(np.int64), source)
        width = int((last - first).max())
        cols = first[:, None] + np.arange(width)[None]
        overlap = np.clip(np.minimum(ends[:, None], cols + 1) - np.maximum(starts[:, None], cols), 0, None)
        cols = np.minimum(cols, source - 1)
    else:
        kernel, support = KERNELS[method]
        stretch = max(ratio, 1.0)  # widen the kernel when shrinking: anti-aliasing
        reach = support * stretch
        first = np.floor(centres - 0.5 - reach).astype(np.int64) + 1
        width = int(np.ceil(2 * reach)) + 1
        taps = first[:, None] + np.arange(width)[None]
        overlap = kernel((taps + 0.5 - centres[:, None]) / stretch)
        cols = np.clip(taps, 0, source - 1)  # repeat the edge pixel beyond the border
    rows = np.repeat(np.arange(target), cols.shape[1])
    matrix = sparse.csr_matrix((overlap.ravel(), (rows, cols.ravel())), shape=(target, source))
    matrix.sum_duplicates()
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    return sparse.diags(1.0 / totals) @ matrix


def output_size(
    shape: tuple[int, int], *, scale: float | tuple[float, float] | None = None, size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """(height, width) of the result for a scale (one number or (sy, sx)) or an explicit (width, height)."""
    if (scale is None) == (size is None):
        raise InputError("give exactly one of scale or size")
    if size is not None:
        width, height = size
        if width < 1 or height < 1:
            raise InputError(f"size must be at least 1x1, got {width}x{height}")
        return int(height), int(width)
    scale_y, scale_x = (scale, scale) if np.isscalar(scale) else scale
    if not (np.isfinite(scale_y) and np.isfinite(scale_x)) or scale_y <= 0 or scale_x <= 0:
        raise InputError(f"scale must be a positive number, got {scale}")
    return max(1, round(shape[0] * scale_y)), max(1, round(shape[1] * scale_x))


def resize(
    image,
    *,
    scale: float | tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    method: str = "bicubic",
) -> np.ndarray:
    """Resize ``image`` (float HxW or HxWxC in [0, 1]) by ``scale`` or to ``size`` = (width, height)."""
    RESAMPLING.get(method)
    image = check_image(image, min_side=1)
    height, width = output_size(image.shape[:2], scale=scale, size=size)
    check_pixels(width, height, where="resize")
    planes = channels_last(image).astype(np.float64)
    rows = resampling_matrix(planes.shape[0], height, method)
    cols = resampling_matrix(planes.shape[1], width, method)
    channels = planes.shape[2]
    vertical = rows @ planes.reshape(planes.shape[0], -1)  # (height, W * C)
    vertical = vertical.reshape(height, planes.shape[1], channels).transpose(1, 0, 2).reshape(planes.shape[1], -1)
    both = (cols @ vertical).reshape(width, height, channels).transpose(1, 0, 2)
    out = np.clip(both, 0.0, 1.0).astype(np.float32)
    return out[:, :, 0] if image.ndim == 2 else out


RESAMPLING: Table = Table("resampling method")
for _name, _description in (
    ("nearest", "nearest neighbour: blocky, exact for integer scales"),
    ("bilinear", "triangle filter (anti-aliased when shrinking)"),
    ("bicubic", "Keys cubic, a = -0.5 (anti-aliased when shrinking)"),
    ("lanczos", "Lanczos-3: sharpest, may ring at edges"),
    ("area", "box average over the covered source pixels: the shrinking choice"),
):
    RESAMPLING.add(method(_name, resize, _description, method=_name))
