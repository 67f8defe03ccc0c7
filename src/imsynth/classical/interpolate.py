"""Hole filling by interpolation from the known pixels around the hole.

- ``harmonic_fill``: the discrete Laplace equation (membrane): smooth, exact for linear ramps.
- ``biharmonic_fill``: the discrete biharmonic equation (thin plate): also continues gradients across the edge
  (scikit-image's ``inpaint_biharmonic`` solves the same problem; this is one sparse solve for all channels).
- ``scattered_fill``: ``nearest``, ``linear`` or ``cubic`` scattered-data interpolation (scipy's Delaunay-based
  ``griddata``) from the known pixels within ``band`` pixels of the hole; pixels outside their convex hull take
  the nearest known value.
- ``rbf_fill``: thin-plate radial basis functions (``scipy.interpolate.RBFInterpolator``) with a neighbour
  limit, so each hole pixel is solved from its ``neighbors`` nearest known pixels and large holes scale.

All: ``image`` float HxW or HxWxC in [0, 1], ``mask`` bool HxW (True = hole); known pixels are returned
unchanged, filled ones clipped to [0, 1]; the image border is a free (Neumann) edge; an empty mask returns a copy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from ..errors import InputError
from ._checks import channels_last, check_hole, check_image

SCATTERED_METHODS = ("nearest", "linear", "cubic")


def _laplacian(shape: tuple[int, int]) -> sparse.csr_matrix:
    """The 4-neighbour graph Laplacian of an HxW grid (degree on the diagonal, -1 per neighbour)."""
    height, width = shape
    index = np.arange(height * width).reshape(shape)
    pairs = [(index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1, :].ravel(), index[1:, :].ravel())]
    rows = np.concatenate([a for a, b in pairs] + [b for a, b in pairs])
    cols = np.concatenate([b for a, b in pairs] + [a for a, b in pairs])
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(height * width,) * 2)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (sparse.diags(degree) - adjacency).tocsr()


def _solve_in_hole(image: np.ndarray, mask: np.ndarray, operator_power: int) -> np.ndarray:
    planes = channels_last(image).astype(np.float64)
    out = planes.copy()
    if not mask.any():
        return out.reshape(image.shape).astype(np.float32)
    # only the pixels within ``operator_power`` steps of the hole take part: the rest cannot influence it
    region = ndimage.binary_dilation(mask, iterations=operator_power + 1)
    top, bottom = np.nonzero(region.any(axis=1))[0][[0, -1]]
    left, right = np.nonzero(region.any(axis=0))[0][[0, -1]]
    window = (slice(top, bottom + 1), slice(left, right + 1))
    hole = mask[window]
    values = planes[window].reshape(-1, planes.shape[2])
    laplacian = _laplacian(hole.shape)
    unknown = hole.ravel()
    if operator_power == 1:
        system, coupling = laplacian[unknown][:, unknown], laplacian[unknown][:, ~unknown]
    else:
        # minimise ||L u||^2 over the hole: (L_U^T L_U) u_U = -L_U^T L_K u_K
        touched = np.asarray(abs(laplacian[:, unknown]).sum(axis=1)).ravel() > 0
        rows = laplacian[touched]
        system = rows[:, unknown].T @ rows[:, unknown]
        coupling = rows[:, unknown].T @ rows[:, ~unknown]
    right_side = -(coupling @ values[~unknown])
    solution = spsolve(system.tocsc(), right_side)
    filled = out[window].reshape(-1, planes.shape[2])
    filled[unknown] = np.clip(solution.reshape(int(unknown.sum()), -1), 0.0, 1.0)  # the biharmonic overshoots
    out[window] = filled.reshape(hole.shape + (planes.shape[2],))
    return out.reshape(image.shape).astype(np.float32)


def harmonic_fill(image, mask) -> np.ndarray:
    """Fill the hole with the harmonic function (discrete Laplace equation) matching the known pixels around it."""
    image = check_image(image)
    return _solve_in_hole(image, check_hole(image, mask), 1)


def biharmonic_fill(image, mask) -> np.ndarray:
    """Fill the hole with the discrete biharmonic function (least squared Laplacian) of the known pixels."""
    image = check_image(image)
    return _solve_in_hole(image, check_hole(image, mask), 2)


def _fill_from_band(image, mask, band: int, interpolate) -> np.ndarray:
    """Shared frame of the scattered-data fills: ``interpolate(known_rc, values, hole_rc)`` gives the hole's
    values from the known pixels within ``band`` pixels of it; results are clipped to [0, 1]."""
    if band < 1:
        raise InputError(f"band must be >= 1 pixel, got {band}")
    image = check_image(image)
    mask = check_hole(image, mask)
    planes = channels_last(image)
    out = planes.copy()
    if mask.any():
        known = np.argwhere(ndimage.binary_dilation(mask, iterations=band) & ~mask)
        holes = np.argwhere(mask)
        values = planes[known[:, 0], known[:, 1]].astype(np.float64)
        out[holes[:, 0], holes[:, 1]] = np.clip(interpolate(known, values, holes), 0.0, 1.0)  # cubic/RBF overshoot
    return out.reshape(image.shape).astype(np.float32)


def scattered_fill(image, mask, *, method: str = "linear", band: int = 8) -> np.ndarray:
    """Interpolate the hole from the known pixels within ``band`` pixels of it (nearest, linear or cubic)."""
    if method not in SCATTERED_METHODS:
        raise InputError(f"unknown interpolation method {method!r}; valid: {', '.join(SCATTERED_METHODS)}")
    from scipy.interpolate import griddata

    def interpolate(known, values, holes):
        chosen = method if len(known) >= 4 else "nearest"  # a triangulation needs 3 points off one line
        try:
            filled = griddata(known, values, holes, method=chosen)
        except Exception:  # collinear known pixels (a hole spanning the image but one line): no triangulation
            filled = np.full((len(holes), values.shape[1]), np.nan)
        outside = np.isnan(filled).any(axis=1)
        if outside.any():
            filled[outside] = griddata(known, values, holes[outside], method="nearest")
        return filled

    return _fill_from_band(image, mask, band, interpolate)


def rbf_fill(image, mask, *, neighbors: int = 64, band: int = 8, smoothing: float = 0.0) -> np.ndarray:
    """Thin-plate RBF interpolation of the hole, each pixel from its ``neighbors`` nearest known pixels."""
    if neighbors < 3:
        raise InputError(f"neighbors must be >= 3, got {neighbors}")
    from scipy.interpolate import RBFInterpolator

    def interpolate(known, values, holes):
        interpolator = RBFInterpolator(
            known.astype(np.float64),
            values,
            kernel="thin_plate_spline",
            neighbors=min(neighbors, len(known)),
            smoothing=smoothing,
            degree=1,
        )
        return interpolator(holes.astype(np.float64))

    return _fill_from_band(image, mask, band, interpolate)
