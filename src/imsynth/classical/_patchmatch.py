"""PatchMatch (Barnes et al. 2009) nearest-neighbour fields and patch voting, compiled with numba.

Both loops visit every target pixel and a handful of candidates each, with data-dependent early exits: NumPy
cannot vectorise them and they are the whole cost of multi-scale texture synthesis and exemplar inpainting.

Conventions: images are float32 HxWxC; a patch is (2r+1)^2 pixels around its centre; ``source_ok[y, x]`` marks
source centres whose whole patch may be copied; ``active[y, x]`` marks target centres to match. Target pixels
outside the image do not count in a distance (the sum runs over the part of the patch inside the target).
``nnf[y, x] = (sy, sx)`` is the source centre matched to target centre (y, x).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def _distance(target, source, ty, tx, sy, sx, radius, limit):
    height, width, channels = target.shape
    total = 0.0
    for dy in range(-radius, radius + 1):
        y = ty + dy
        if y < 0 or y >= height:
            continue
        for dx in range(-radius, radius + 1):
            x = tx + dx
            if x < 0 or x >= width:
                continue
            for c in range(channels):
                d = target[y, x, c] - source[sy + dy, sx + dx, c]
                total += d * d
        if total > limit:
            return total
    return total


@numba.njit(cache=True)
def random_field(active, source_ok, seed):
    """An initial field: each active target centre gets a random valid source centre."""
    np.random.seed(seed)
    valid = np.argwhere(source_ok)
    nnf = np.zeros((active.shape[0], active.shape[1], 2), dtype=np.int32)
    for y in range(active.shape[0]):
        for x in range(active.shape[1]):
            pick = valid[np.random.randint(len(valid))]
            nnf[y, x, 0] = pick[0]
            nnf[y, x, 1] = pick[1]
    return nnf


@numba.njit(cache=True)
def repair_field(nnf, source_ok, seed):
    """Replace entries that point at invalid source centres (after upsampling a field) by random valid ones."""
    np.random.seed(seed)
    valid = np.argwhere(source_ok)
    height, width = source_ok.shape
    for y in range(nnf.shape[0]):
        for x in range(nnf.shape[1]):
            sy, sx = nnf[y, x, 0], nnf[y, x, 1]
            if sy < 0 or sy >= height or sx < 0 or sx >= width or not source_ok[sy, sx]:
                pick = valid[np.random.randint(len(valid))]
                nnf[y, x, 0] = pick[0]
                nnf[y, x, 1] = pick[1]
    return nnf


@numba.njit(cache=True)
def patchmatch(target, source, source_ok, active, nnf, radius, iterations, seed):
    """Improve ``nnf`` (in place) by ``iterations`` rounds of propagation and random search; returns distances."""
    np.random.seed(seed)
    height, width = active.shape
    source_height, source_width = source_ok.shape
    best = np.full((height, width), np.inf, dtype=np.float64)
    for y in range(height):
        for x in range(width):
            if active[y, x]:
                best[y, x] = _distance(target, source, y, x, nnf[y, x, 0], nnf[y, x, 1], radius, np.inf)
    search_start = max(source_height, source_width)
    for iteration in range(iterations):
        step = 1 if iteration % 2 == 0 else -1
        ys = range(height) if step == 1 else range(height - 1, -1, -1)
        for y in ys:
            xs = range(width) if step == 1 else range(width - 1, -1, -1)
            for x in xs:
                if not active[y, x]:
                    continue
                # propagation: the neighbours' matches, shifted by one pixel
                for ny, nx in ((y - step, x), (y, x - step)):
                    if ny < 0 or ny >= height or nx < 0 or nx >= width or not active[ny, nx]:
                        continue
                    sy, sx = nnf[ny, nx, 0] + (y - ny), nnf[ny, nx, 1] + (x - nx)
                    if sy < 0 or sy >= source_height or sx < 0 or sx >= source_width or not source_ok[sy, sx]:
                        continue
                    d = _distance(target, source, y, x, sy, sx, radius, best[y, x])
                    if d < best[y, x]:
                        best[y, x] = d
                        nnf[y, x, 0], nnf[y, x, 1] = sy, sx
                # random search in shrinking windows around the current match
                span = search_start
                while span >= 1:
                    cy, cx = nnf[y, x, 0], nnf[y, x, 1]
                    sy = cy + np.random.randint(-span, span + 1)
                    sx = cx + np.random.randint(-span, span + 1)
                    if 0 <= sy < source_height and 0 <= sx < source_width and source_ok[sy, sx]:
                        d = _distance(target, source, y, x, sy, sx, radius, best[y, x])
                        if d < best[y, x]:
                            best[y, x] = d
                            nnf[y, x, 0], nnf[y, x, 1] = sy, sx
                    span //= 2
    return best


@numba.njit(cache=True)
def vote(source, nnf, active, update, radius, channels_out):
    """Each pixel where ``update`` is True becomes the mean of the source pixels that the overlapping active
    patches would put there (uniform weights). Returns (values HxWxC, weight HxW)."""
    height, width = update.shape
    source_height, source_width = source.shape[0], source.shape[1]
    total = np.zeros((height, width, channels_out), dtype=np.float64)
    weight = np.zeros((height, width), dtype=np.float64)
    for y in range(height):
        for x in range(width):
            if not active[y, x]:
                continue
            sy, sx = nnf[y, x, 0], nnf[y, x, 1]
            for dy in range(-radius, radius + 1):
                py = y + dy
                qy = sy + dy
                if py < 0 or py >= height or qy < 0 or qy >= source_height:
                    continue
                for dx in range(-radius, radius + 1):
                    px = x + dx
                    qx = sx + dx
                    if px < 0 or px >= width or qx < 0 or qx >= source_width or not update[py, px]:
                        continue
                    for c in range(channels_out):
                        total[py, px, c] += source[qy, qx, c]
                    weight[py, px] += 1.0
    return total, weight


def upsample_field(coarse: np.ndarray, shape: tuple[int, int], source_ok: np.ndarray, seed: int) -> np.ndarray:
    """A field for the next finer pyramid level: each pixel takes its coarse parent's match, doubled and offset
    by its own position within the parent; entries landing on invalid source centres are re-drawn at random."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    parent_rows = np.minimum(rows // 2, coarse.shape[0] - 1)
    parent_cols = np.minimum(cols // 2, coarse.shape[1] - 1)
    field = np.empty(shape + (2,), np.int32)
    field[..., 0] = coarse[parent_rows, parent_cols, 0] * 2 + rows % 2
    field[..., 1] = coarse[parent_rows, parent_cols, 1] * 2 + cols % 2
    return repair_field(field, source_ok, seed)
