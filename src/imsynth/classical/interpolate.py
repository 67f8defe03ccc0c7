"""Hole filling by interpolation from the known pixels around the hole."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from ..data.masks import check_mask


def harmonic_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill the hole with the harmonic function (discrete Laplace equation, 4-neighbours) that matches the
    known pixels on its boundary; the image border is a free (Neumann) edge. One sparse solve for all channels.

    ``image``: float HxW or HxWxC; ``mask``: bool HxW, True = hole. Returns a new float array.
    """
    image = np.asarray(image, dtype=np.float64)
    mask = check_mask(mask, image.shape)
    flat = image.reshape(*image.shape[:2], -1)
    result = flat.copy()
    if not mask.any():
        return result.reshape(image.shape).astype(np.float32)
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    count = len(rows)
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(count)
    diagonal = np.zeros(count)
    right = np.zeros((count, flat.shape[2]))
    a_rows, a_cols = [], []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = rows + dy, cols + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        diagonal += inside
        ny, nx, own = ny[inside], nx[inside], np.nonzero(inside)[0]
        neighbour_in_hole = mask[ny, nx]
        a_rows.append(own[neighbour_in_hole])
        a_cols.append(index[ny[neighbour_in_hole], nx[neighbour_in_hole]])
        np.add.at(right, own[~neighbour_in_hole], flat[ny[~neighbour_in_hole], nx[~neighbour_in_hole]])
    off_rows, off_cols = np.concatenate(a_rows), np.concatenate(a_cols)
    matrix = sparse.csr_matrix(
        (np.concatenate([diagonal, -np.ones(len(off_rows))]),
         (np.concatenate([np.arange(count), off_rows]), np.concatenate([np.arange(count), off_cols]))),
        shape=(count, count))
    solution = spsolve(matrix.tocsc(), right)
    result[rows, cols] = solution.reshape(count, -1)
    return result.reshape(image.shape).astype(np.float32)
