"""Texture synthesis from a sample: Efros-Leung, image quilting, and multi-scale PatchMatch synthesis.

- ``efros_leung`` (Efros & Leung 1999): grow the output pixel by pixel, most-constrained pixels first; each takes
  the centre of a sample window chosen at random among those within ``1 + tolerance`` of the best
  Gaussian-weighted SSD over the already known neighbours. One masked ``cv2.matchTemplate`` per pixel
  searches every window of the sample at once.
- ``quilt`` (Efros & Freeman 2001): tile blocks in raster order, each chosen among the sample blocks whose overlap
  with what is already placed is within ``1 + tolerance`` of the best, joined along the minimum-error boundary
  cut (dynamic programming over the overlap error).
- ``multiscale_texture`` (texture optimisation, Kwatra et al. 2005, with PatchMatch nearest neighbours): from
  quilted blocks at the coarsest level, alternate PatchMatch matching of every output patch to the sample and
  voting (each pixel the mean of the patches over it; the last pass copies matched centres), then upsample
  the result and the field and refine at the next level.

All take a float sample HxW or HxWxC in [0, 1], a ``size`` = (width, height) and a ``seed``, and return a float32
array of that size with the sample's channels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ..image import check_pixels
from ..tables import Table, method
from . import _patchmatch
from ._checks import channels_last, check_image
from .pyramid import down


def _check_size(size) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise InputError(f"size must be at least 1x1, got {width}x{height}")
    return width, height


def _check_patch(sample: np.ndarray, patch: int, what: str = "patch") -> None:
    if patch < 3 or patch % 2 == 0:
        raise InputError(f"{what} size must be an odd number >= 3, got {patch}")
    if patch > min(sample.shape[:2]):
        raise InputError(f"{what} size {patch} is larger than the {sample.shape[1]}x{sample.shape[0]} sample")


def efros_leung(sample, size, *, patch: int = 11, tolerance: float = 0.1, seed: int = 0) -> np.ndarray:
    """Pixel-by-pixel non-parametric synthesis (slow: one window search per output pixel; use small outputs)."""
    flat = np.ndim(sample) == 2
    sample = channels_last(check_image(sample, where="sample"))
    _check_patch(sample, patch)
    width, height = _check_size(size)
    rng = np.random.default_rng(seed)
    radius = patch // 2
    padded = np.zeros((height + 2 * radius, width + 2 * radius, sample.shape[2]), np.float32)
    known = np.zeros(padded.shape[:2], bool)
    # a 3x3 seed copied from a random place in the sample
    sy, sx = rng.integers(0, sample.shape[0] - 2), rng.integers(0, sample.shape[1] - 2)
    cy, cx = radius + height // 2 - 1, radius + width // 2 - 1
    seed_h, seed_w = min(3, height), min(3, width)
    padded[cy : cy + seed_h, cx : cx + seed_w] = sample[sy : sy + seed_h, sx : sx + seed_w]
    known[cy : cy + seed_h, cx : cx + seed_w] = True
    sigma = patch / 6.4
    offsets = np.arange(patch) - radius
    gaussian = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2)).astype(np.float32)
    inside = np.zeros_like(known)
    inside[radius : radius + height, radius : radius + width] = True
    kernel = np.ones((3, 3), np.uint8)
    while True:
        frontier = (cv2.dilate(known.astype(np.uint8), kernel) > 0) & ~known & inside
        if not frontier.any():
            break
        ys, xs = np.nonzero(frontier)
        # most constrained first: the pixels with the most known neighbours in their window
        counts = cv2.boxFilter(known.astype(np.float32), -1, (patch, patch), normalize=False)[ys, xs]
        for index in np.argsort(-counts, kind="stable"):
            y, x = ys[index], xs[index]
            window = padded[y - radius : y + radius + 1, x - radius : x + radius + 1]
            weights = gaussian * known[y - radius : y + radius + 1, x - radius : x + radius + 1]
            mask = np.sqrt(weights / weights.sum())[:, :, None].repeat(sample.shape[2], axis=2)
            errors = cv2.matchTemplate(sample, window, cv2.TM_SQDIFF, mask=mask.astype(np.float32))
            good = _near_best(errors, tolerance)
            wy, wx = good[rng.integers(len(good))]
            padded[y, x] = sample[wy + radius, wx + radius]
            known[y, x] = True
    return _like(flat, padded[radius : radius + height, radius : radius + width].copy())


def _near_best(errors: np.ndarray, tolerance: float) -> np.ndarray:
    """Positions whose error is within 1 + tolerance of the best (FFT-based sums can dip just below 0)."""
    errors = np.nan_to_num(errors, nan=np.inf, posinf=np.inf)
    best = max(float(errors.min()), 0.0)
    return np.argwhere(errors <= best * (1 + tolerance) + 1e-6)


def _min_cut_mask(error: np.ndarray) -> np.ndarray:
    """For an (H, W) overlap error with the old content on the left: True right of the cheapest top-to-bottom
    seam (the new block's side)."""
    height, width = error.shape
    cost = error.astype(np.float64).copy()
    for y in range(1, height):
        left = np.concatenate([[np.inf], cost[y - 1, :-1]])
        right = np.concatenate([cost[y - 1, 1:], [np.inf]])
        cost[y] += np.minimum(np.minimum(left, cost[y - 1]), right)
    seam = np.empty(height, np.int64)
    seam[-1] = int(np.argmin(cost[-1]))
    for y in range(height - 2, -1, -1):
        x = seam[y + 1]
        lo, hi = max(0, x - 1), min(width, x + 2)
        seam[y] = lo + int(np.argmin(cost[y, lo:hi]))
    return np.arange(width)[None, :] >= seam[:, None]


def quilt(
    sample, size, *, block: int = 32, overlap: int | None = None, tolerance: float = 0.1, seed: int = 0
) -> np.ndarray:
    """Image quilting with minimum-error boundary cuts."""
    flat = np.ndim(sample) == 2
    sample = channels_last(check_image(sample, where="sample"))
    width, height = _check_size(size)
    if block < 2:
        raise InputError(f"block size must be >= 2, got {block}")
    if block > min(sample.shape[:2]):
        raise InputError(f"block size {block} is larger than the {sample.shape[1]}x{sample.shape[0]} sample")
    overlap = max(1, block // 6) if overlap is None else overlap
    if not 0 < overlap < block:
        raise InputError(f"overlap must be between 1 and block - 1 ({block - 1}), got {overlap}")
    rng = np.random.default_rng(seed)
    step = block - overlap
    rows, cols = max(1, -(-(height - overlap) // step)), max(1, -(-(width - overlap) // step))
    canvas = np.zeros((rows * step + overlap, cols * step + overlap, sample.shape[2]), np.float32)
    for row in range(rows):
        for col in range(cols):
            y, x = row * step, col * step
            region = canvas[y : y + block, x : x + block]
            if row == 0 and col == 0:
                sy, sx = rng.integers(0, sample.shape[0] - block + 1), rng.integers(0, sample.shape[1] - block + 1)
                region[:] = sample[sy : sy + block, sx : sx + block]
                continue
            weight = np.zeros((block, block), np.float32)
            if col > 0:
                weight[:, :overlap] = 1
            if row > 0:
                weight[:overlap, :] = 1
            mask = np.repeat(weight[:, :, None], sample.shape[2], axis=2)
            errors = cv2.matchTemplate(sample, np.ascontiguousarray(region), cv2.TM_SQDIFF, mask=mask)
            good = _near_best(errors, tolerance)
            sy, sx = good[rng.integers(len(good))]
            chosen = sample[sy : sy + block, sx : sx + block]
            pixel_error = ((chosen - region) ** 2).sum(axis=2)
            take = np.ones((block, block), bool)
            if col > 0:
                take[:, :overlap] &= _min_cut_mask(pixel_error[:, :overlap])
            if row > 0:
                take[:overlap, :] &= _min_cut_mask(pixel_error[:overlap, :].T).T
            region[take] = chosen[take]
    return _like(flat, canvas[:height, :width].copy())


def multiscale_texture(
    sample, size, *, patch: int = 7, levels: int | None = None, iterations: int = 4, seed: int = 0
) -> np.ndarray:
    """Coarse-to-fine texture optimisation with PatchMatch nearest neighbours and patch voting."""
    flat = np.ndim(sample) == 2
    sample = np.ascontiguousarray(channels_last(check_image(sample, where="sample")))
    _check_patch(sample, patch)
    width, height = _check_size(size)
    if iterations < 1:
        raise InputError(f"iterations must be >= 1, got {iterations}")
    radius = patch // 2
    if levels is not None and levels < 1:
        raise InputError(f"levels must be >= 1, got {levels}")
    if levels is None:  # coarsest sample level still about 4 patches wide
        levels = 1
        while min(sample.shape[:2]) / 2**levels >= 4 * patch and min(height, width) / 2**levels >= 2 * patch:
            levels += 1
    samples = [sample]
    for _ in range(levels - 1):
        samples.append(down(samples[-1]))
    sizes = [(height, width)]
    for _ in range(levels - 1):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    output = nnf = None
    for level in reversed(range(levels)):
        source = np.ascontiguousarray(samples[level])
        shape = sizes[level]
        source_ok = np.zeros(source.shape[:2], bool)
        source_ok[radius : source.shape[0] - radius, radius : source.shape[1] - radius] = True
        if not source_ok.any():
            raise InputError(f"patch size {patch} is too large for the sample at pyramid level {level}")
        active = np.ones(shape, bool)
        if output is None:
            # Start from quilted blocks of the coarsest sample: from noise (or from voted random patches) the
            # optimisation settles on the sample's flattest patches and washes the texture out (seen here).
            nnf = _patchmatch.random_field(active, source_ok, seed)
            block = max(2, min(source.shape[:2]) // 2)
            output = np.ascontiguousarray(quilt(source, (shape[1], shape[0]), block=block, seed=seed))
        else:
            output = np.ascontiguousarray(_resize_to(output, shape))
            nnf = _patchmatch.upsample_field(nnf, shape, source_ok, seed + level)
        for iteration in range(iterations):
            _patchmatch.patchmatch(output, source, source_ok, active, nnf, radius, 2, seed + 97 * level + iteration)
            # voting (the mean of the overlapping patches) keeps patches coherent but blurs; the last pass copies
            # each matched patch centre, which keeps the sample's contrast
            last = iteration == iterations - 1
            output = (
                np.ascontiguousarray(source[nnf[..., 0], nnf[..., 1]]) if last else _vote(source, nnf, active, radius)
            )
    return _like(flat, np.clip(output, 0.0, 1.0).astype(np.float32))


def _like(flat: bool, result: np.ndarray) -> np.ndarray:
    return result[:, :, 0] if flat else result


def _vote(source, nnf, active, radius) -> np.ndarray:
    total, weight = _patchmatch.vote(source, nnf, active, active, radius, source.shape[2])
    return (total / np.maximum(weight, 1e-12)[:, :, None]).astype(np.float32)


def _resize_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    resized = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return resized[:, :, None] if resized.ndim == 2 else resized


def synthesize(sample, size, *, method: str = "quilting", seed: int = 0, **options) -> np.ndarray:
    """Texture of ``size`` = (width, height) from ``sample`` by a named method; HxW samples give HxW results."""
    entry = TEXTURES.get(method)
    TEXTURES.check_options(method, options)
    check_pixels(*size, where="texture size")
    return entry(sample, size, seed=seed, **options)


TEXTURES: Table = Table("texture method")
TEXTURES.add(
    method(
        "efros-leung",
        efros_leung,
        "pixel by pixel from the best-matching neighbourhoods (1999): slow, for small outputs",
        options={"patch": "odd neighbourhood window", "tolerance": "match tolerance", "seed": "random seed"},
    )
)
TEXTURES.add(
    method(
        "quilting",
        quilt,
        "image quilting (Efros & Freeman 2001): blocks joined along minimum-error cuts",
        options={
            "block": "block side in pixels",
            "overlap": "overlap in pixels (default block / 6)",
            "tolerance": "match tolerance",
            "seed": "random seed",
        },
    )
)
TEXTURES.add(
    method(
        "multiscale",
        multiscale_texture,
        "coarse-to-fine PatchMatch optimisation (Kwatra et al. 2005)",
        options={
            "patch": "odd patch size",
            "levels": "pyramid levels (default: by size)",
            "iterations": "PatchMatch passes per level",
            "seed": "random seed",
        },
    )
)
