"""Spatial warps: point-driven transforms and deformations, applied by backward mapping.

Coordinates are (x, y) = (column, row) in pixels, pixel centres at integers (OpenCV's remap convention). A warp
that moves control points ``src`` to ``dst`` builds the *inverse* map (output pixel -> where to read in the input)
by fitting the deformation from ``dst`` to ``src``, then samples the input there (``cv2.remap``), so every
output pixel is defined and control points land exactly where asked.

- ``affine`` / ``similarity`` / ``projective``: least-squares fits (scikit-image's estimators), 3/2/4 points at least.
- ``tps``: thin-plate spline (Bookstein 1989), interpolating; at least 3 points not on one line.
- ``mls-affine`` / ``mls-similarity`` / ``mls-rigid``: moving least squares (Schaefer, McPhail & Warren 2006).
  For similarity and rigid, each pixel's best transform is a complex number a with f(v) = a (v - p*) + q*
  (rigid: a / |a|), so all per-pixel sums are one matrix product of a weights block with the points' moments.
  ``grid`` evaluates the map every ``grid`` pixels and interpolates it (the map is smooth); evaluation runs in
  row blocks so memory stays bounded.
- ``swirl`` (scikit-image's formula about the pixel-centre middle ((w - 1) / 2, (h - 1) / 2)), ``elastic`` (Gaussian-smoothed random displacements, seeded), ``mesh``
  (piecewise-affine over a Delaunay triangulation of ``dst`` plus the image corners).

``order``: 0 nearest, 1 bilinear, 3 bicubic; ``mode``: constant, edge, reflect, wrap.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ..tables import Method, Table, method
from ._checks import channels_last, check_image

ORDERS = {0: cv2.INTER_NEAREST, 1: cv2.INTER_LINEAR, 3: cv2.INTER_CUBIC}
MODES = {
    "constant": cv2.BORDER_CONSTANT,
    "edge": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT_101,
    "wrap": cv2.BORDER_WRAP,
}


# -- points -----------------------------------------------------------------------------------------------
def check_points(src, dst, method: str, *, where: str = "points") -> tuple[np.ndarray, np.ndarray]:
    """Two (N, 2) float arrays of the same length with at least the method's minimum, no repeated points, and
    not all on one line where that is degenerate."""
    try:
        src = np.asarray(src, dtype=np.float64)
        dst = np.asarray(dst, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: points must be lists of [x, y] numbers") from None
    for name, points in (("src", src), ("dst", dst)):
        if points.ndim != 2 or points.shape[1] != 2:
            raise InputError(f"{where}: {name} must be a list of [x, y] pairs, got shape {points.shape}")
        if not np.isfinite(points).all():
            raise InputError(f"{where}: {name} holds NaN or infinite coordinates")
    if len(src) != len(dst):
        raise InputError(f"{where}: src has {len(src)} points but dst has {len(dst)}; they must pair up")
    need = WARPS.get(method).info["minimum_points"] if method in WARPS else 1
    if len(src) < need:
        raise InputError(f"{where}: {method} needs at least {need} point pairs, got {len(src)}")
    for name, points in (("src", src), ("dst", dst)):
        if len(np.unique(points, axis=0)) != len(points):
            raise InputError(f"{where}: {name} repeats a point; each control point must be distinct")
        if method in ("affine", "projective", "tps", "mls-affine", "mesh") and _collinear(points):
            raise InputError(f"{where}: all {name} points lie on one line; {method} needs points spanning an area")
    return src, dst


def _collinear(points: np.ndarray) -> bool:
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return singular[-1] <= 1e-9 * max(1.0, singular[0])


# -- sampling ---------------------------------------------------------------------------------------------
def remap(
    image: np.ndarray,
    map_x: np.ndarray,
    map_y: np.ndarray,
    *,
    order: int = 1,
    mode: str = "constant",
    cval: float = 0.0,
) -> np.ndarray:
    """Sample ``image`` at (map_x, map_y) for every output pixel (cv2.remap), keeping HxW / HxWxC."""
    if order not in ORDERS:
        raise InputError(
            f"interpolation order must be one of {sorted(ORDERS)} (nearest, bilinear, bicubic), got {order}"
        )
    if mode not in MODES:
        raise InputError(f"unknown border mode {mode!r}; valid: {', '.join(MODES)}")
    planes = channels_last(image)
    out = cv2.remap(
        np.ascontiguousarray(planes),
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        interpolation=ORDERS[order],
        borderMode=MODES[mode],
        borderValue=(cval,) * 4,
    )
    out = out.reshape(map_x.shape + (planes.shape[2],))
    return np.clip(out, 0.0, 1.0).reshape(map_x.shape + image.shape[2:]).astype(np.float32)


def _dense_map(function, shape: tuple[int, int], grid: int, exact_near=None) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate a point map (M, 2) -> (M, 2) on every pixel, or every ``grid`` pixels and interpolated; pixels
    within 2 * grid of an ``exact_near`` point are evaluated exactly (MLS maps bend sharply next to control
    points: interpolating a 4-px grid there was off by up to 0.95 px, elsewhere by < 0.1 px)."""
    if grid < 1:
        raise InputError(f"grid must be >= 1 pixel, got {grid}")
    height, width = shape
    if grid == 1:
        xs, ys = np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
    else:
        xs = np.arange(0, width - 1 + grid, grid, dtype=np.float64)
        ys = np.arange(0, height - 1 + grid, grid, dtype=np.float64)
    out = np.empty((len(ys), len(xs), 2), np.float64)
    rows_per_block = max(1, 2**20 // max(1, len(xs)))
    for start in range(0, len(ys), rows_per_block):
        block_y = ys[start : start + rows_per_block]
        query = np.stack(np.meshgrid(xs, block_y), axis=-1).reshape(-1, 2)
        out[start : start + len(block_y)] = function(query).reshape(len(block_y), len(xs), 2)
    if grid == 1:
        return out[..., 0], out[..., 1]
    # bilinear interpolation of the coarse map at every pixel (the grid's last node may lie past the border)
    fy = np.arange(height) / grid
    fx = np.arange(width) / grid
    # bilinear interpolation of the coarse map at every pixel (cv2.remap on the coarse nodes: fast)
    node_x, node_y = np.meshgrid(fx.astype(np.float32), fy.astype(np.float32))
    map_x = cv2.remap(
        out[..., 0].astype(np.float32), node_x, node_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float64)
    map_y = cv2.remap(
        out[..., 1].astype(np.float32), node_x, node_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float64)
    if exact_near is not None and len(exact_near):
        near = np.zeros(shape, np.uint8)
        for x, y in np.round(exact_near).astype(np.int64):
            cv2.circle(near, (int(x), int(y)), 4 * grid, 1, -1)
        rows, cols = np.nonzero(near)
        exact = function(np.c_[cols, rows].astype(np.float64))
        map_x[rows, cols], map_y[rows, cols] = exact[:, 0], exact[:, 1]
    return map_x, map_y


# -- transforms -------------------------------------------------------------------------------------------
def estimate_transform(kind: str, src, dst) -> np.ndarray:
    """The 3x3 matrix of the ``kind`` (affine, similarity, projective) transform taking src to dst (least squares)."""
    from skimage.transform import AffineTransform, ProjectiveTransform, SimilarityTransform

    src, dst = check_points(src, dst, kind)
    model = {"affine": AffineTransform, "similarity": SimilarityTransform, "projective": ProjectiveTransform}[kind]
    fitted = model.from_estimate(src, dst) if hasattr(model, "from_estimate") else None
    if fitted is None or not bool(fitted):
        fitted = model()
        if not fitted.estimate(src, dst):
            raise InputError(f"points: could not fit a {kind} transform (degenerate point layout)")
    return np.asarray(fitted.params, dtype=np.float64)


def warp_matrix(
    image,
    matrix,
    *,
    output_shape: tuple[int, int] | None = None,
    order: int = 1,
    mode: str = "constant",
    cval: float = 0.0,
) -> np.ndarray:
    """Apply a 3x3 forward matrix (input -> output coordinates)."""
    image = check_image(image, min_side=1)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape != (3, 3) or abs(np.linalg.det(matrix)) < 1e-12:
        raise InputError(f"need an invertible 3x3 matrix, got shape {matrix.shape}")
    inverse = np.linalg.inv(matrix)

    def backward(query):
        homogeneous = np.c_[query, np.ones(len(query))] @ inverse.T
        return homogeneous[:, :2] / homogeneous[:, 2:3]

    map_x, map_y = _dense_map(backward, output_shape or image.shape[:2], 1)
    return remap(image, map_x, map_y, order=order, mode=mode, cval=cval)


def rotate(
    image,
    degrees: float,
    *,
    centre: tuple[float, float] | None = None,
    scale: float = 1.0,
    order: int = 1,
    mode: str = "constant",
) -> np.ndarray:
    """Rotate counter-clockwise (as seen on screen) by ``degrees`` about ``centre`` (default: the image centre)."""
    image = check_image(image, min_side=1)
    height, width = image.shape[:2]
    cx, cy = centre if centre is not None else ((width - 1) / 2, (height - 1) / 2)
    matrix = np.vstack([cv2.getRotationMatrix2D((float(cx), float(cy)), float(degrees), float(scale)), [0, 0, 1]])
    return warp_matrix(image, matrix, order=order, mode=mode)


def shear(image, shear_x: float = 0.0, shear_y: float = 0.0, *, order: int = 1, mode: str = "constant") -> np.ndarray:
    """x' = x + shear_x * y, y' = y + shear_y * x, about the image centre."""
    image = check_image(image, min_side=1)
    height, width = image.shape[:2]
    cx, cy = (width - 1) / 2, (height - 1) / 2
    centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    matrix = np.linalg.inv(centre) @ np.array([[1, shear_x, 0], [shear_y, 1, 0], [0, 0, 1]], float) @ centre
    return warp_matrix(image, matrix, order=order, mode=mode)


def scale(image, factor: float, *, order: int = 1, mode: str = "constant") -> np.ndarray:
    """Scale about the image centre, keeping the canvas size."""
    return rotate(image, 0.0, scale=factor, order=order, mode=mode)


# -- thin-plate spline --------------------------------------------------------------------------------------
def _tps_kernel(squared: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 0.5 * squared * np.log(squared)  # r^2 log r = 0.5 r^2 log r^2
    return np.where(squared > 0, values, 0.0)


def thin_plate_spline(from_points, to_points, *, regularization: float = 0.0):
    """The TPS map taking ``from_points`` exactly to ``to_points``: a function (M, 2) -> (M, 2)."""
    p = np.asarray(from_points, np.float64)
    q = np.asarray(to_points, np.float64)
    count = len(p)
    kernel = _tps_kernel(((p[:, None] - p[None]) ** 2).sum(-1)) + regularization * np.eye(count)
    affine = np.c_[np.ones(count), p]
    system = np.zeros((count + 3, count + 3))
    system[:count, :count], system[:count, count:], system[count:, :count] = kernel, affine, affine.T
    try:
        coefficients = np.linalg.solve(system, np.r_[q, np.zeros((3, 2))])
    except np.linalg.LinAlgError:
        raise InputError("points: the thin-plate spline system is singular (repeated or collinear points)") from None
    weights, linear = coefficients[:count], coefficients[count:]

    p_norms = (p**2).sum(1)

    def apply(query: np.ndarray) -> np.ndarray:
        squared = np.maximum((query**2).sum(1)[:, None] + p_norms[None] - 2 * query @ p.T, 0.0)
        return _tps_kernel(squared) @ weights + np.c_[np.ones(len(query)), query] @ linear

    return apply


# -- moving least squares --------------------------------------------------------------------------------
def moving_least_squares(from_points, to_points, kind: str = "rigid", *, alpha: float = 1.0):
    """The MLS deformation taking ``from_points`` to ``to_points``: a function (M, 2) -> (M, 2)."""
    if kind not in ("affine", "similarity", "rigid"):
        raise InputError(f"unknown MLS kind {kind!r}; valid: affine, similarity, rigid")
    # Work relative to the control points' centre: the per-pixel sums below subtract large, nearly equal moments
    # next to a control point, and smaller coordinates keep that cancellation harmless in float64.
    origin = np.asarray(from_points, np.float64).mean(axis=0)
    p = np.asarray(from_points, np.float64) - origin
    q = np.asarray(to_points, np.float64) - origin
    pc, qc = p[:, 0] + 1j * p[:, 1], q[:, 0] + 1j * q[:, 1]
    p_norms = (p**2).sum(1)

    def weights(query: np.ndarray) -> np.ndarray:
        squared = (query**2).sum(1)[:, None] + p_norms[None] - 2 * query @ p.T
        # capped at (0.001 px)^-2: a control point itself gets all but ~1e-6 of the weight
        inverse = 1.0 / np.maximum(squared, 1e-6)
        return inverse if alpha == 1.0 else inverse**alpha

    if kind == "affine":
        moments = np.stack(
            [
                np.ones(len(p)),
                p[:, 0],
                p[:, 1],
                q[:, 0],
                q[:, 1],
                p[:, 0] ** 2,
                p[:, 0] * p[:, 1],
                p[:, 1] ** 2,
                p[:, 0] * q[:, 0],
                p[:, 0] * q[:, 1],
                p[:, 1] * q[:, 0],
                p[:, 1] * q[:, 1],
            ],
            axis=1,
        )

        def apply(query: np.ndarray) -> np.ndarray:
            query = query - origin
            sums = weights(query) @ moments
            total = sums[:, 0:1]
            pstar, qstar = sums[:, 1:3] / total, sums[:, 3:5] / total
            # weighted covariances of p-hat and cross-covariances p-hat / q-hat (2x2 each, per query point)
            spp = np.stack([sums[:, 5], sums[:, 6], sums[:, 6], sums[:, 7]], 1).reshape(-1, 2, 2) / total[:, :, None]
            spq = sums[:, 8:12].reshape(-1, 2, 2) / total[:, :, None]
            spp -= pstar[:, :, None] * pstar[:, None, :]
            spq -= pstar[:, :, None] * qstar[:, None, :]
            matrix = np.linalg.solve(spp + 1e-12 * np.eye(2), spq)
            return np.einsum("ni,nij->nj", query - pstar, matrix) + qstar + origin

        return apply

    complex_moments = np.stack([np.ones(len(p)), pc, qc, np.conj(pc) * qc, np.abs(pc) ** 2], axis=1)
    # real and imaginary parts side by side: one real matrix product (a complex one cost ~4x more)
    moments = np.concatenate([complex_moments.real, complex_moments.imag], axis=1)

    def apply(query: np.ndarray) -> np.ndarray:
        query = query - origin
        both = weights(query) @ moments
        sums = both[:, :5] + 1j * both[:, 5:]  # (M, 5) complex
        total = sums[:, 0].real
        pstar, qstar = sums[:, 1] / total, sums[:, 2] / total
        cross = sums[:, 3] - total * np.conj(pstar) * qstar  # sum w conj(p-hat) q-hat
        spread = sums[:, 4].real - total * np.abs(pstar) ** 2  # sum w |p-hat|^2
        if kind == "similarity":
            a = cross / np.maximum(spread, 1e-12)
        else:
            a = cross / np.maximum(np.abs(cross), 1e-12)
        mapped = a * (query[:, 0] + 1j * query[:, 1] - pstar) + qstar
        return np.stack([mapped.real, mapped.imag], axis=1) + origin

    return apply


# -- piecewise affine mesh -----------------------------------------------------------------------------
def mesh_map(src, dst, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Backward map of the piecewise-affine warp taking ``src`` to ``dst`` (the image corners stay fixed),
    for an output of ``shape``: each output pixel is read through the affine map of its Delaunay triangle."""
    from scipy.spatial import Delaunay

    height, width = shape
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)
    src_all = np.r_[src, [c for c in corners if not (np.abs(src - c).sum(1) < 1e-9).any()]]
    dst_all = np.r_[dst, [c for c in corners if not (np.abs(dst - c).sum(1) < 1e-9).any()]]
    if len(src_all) != len(dst_all):  # a corner used by one side only: pin all four on both
        src_all, dst_all = np.r_[src, corners], np.r_[dst, corners]
    triangles = Delaunay(dst_all).simplices
    # label every output pixel with its triangle by rasterising them (fast), then one affine map per label
    labels = np.full((height, width), -1, np.int32)
    for index, triangle in enumerate(triangles):
        cv2.fillConvexPoly(labels, np.round(dst_all[triangle]).astype(np.int32), int(index))
    matrices = np.zeros((len(triangles), 2, 3))
    for index, triangle in enumerate(triangles):
        a = np.c_[dst_all[triangle], np.ones(3)]
        try:
            matrices[index] = np.linalg.solve(a, src_all[triangle]).T
        except np.linalg.LinAlgError:
            matrices[index] = np.c_[np.eye(2), np.zeros(2)]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    # pixels the rounded rasterisation missed: the exact point-in-triangle lookup
    missing = labels < 0
    if missing.any():
        found = Delaunay(dst_all).find_simplex(np.c_[xs[missing], ys[missing]])
        labels[missing] = found
    inside = labels >= 0
    chosen = matrices[np.maximum(labels, 0)]
    map_x = chosen[..., 0, 0] * xs + chosen[..., 0, 1] * ys + chosen[..., 0, 2]
    map_y = chosen[..., 1, 0] * xs + chosen[..., 1, 1] * ys + chosen[..., 1, 2]
    return np.where(inside, map_x, xs), np.where(inside, map_y, ys)


# -- the one entry point -----------------------------------------------------------------------------------
def warp(
    image,
    method: str,
    src=None,
    dst=None,
    *,
    order: int = 1,
    mode: str = "constant",
    cval: float = 0.0,
    grid: int = 4,
    alpha: float = 1.0,
    strength: float = 3.0,
    radius: float | None = None,
    centre: tuple[float, float] | None = None,
    sigma: float = 8.0,
    seed: int = 0,
) -> np.ndarray:
    """Warp ``image`` (float HxW or HxWxC in [0, 1]) so that ``src`` points move to ``dst``.

    ``grid`` (tps, mls-*): evaluate the map every ``grid`` pixels and interpolate (exact within 2 * grid of each
    control point); 1 evaluates every pixel (slower: 5.4 s against 0.1 s for 1000x1000 and 64 points).
    ``swirl`` uses ``strength``, ``radius`` (default: a quarter of the smaller side) and ``centre``; ``elastic``
    uses ``strength`` (displacement std in pixels, before smoothing) and ``sigma`` (smoothing, pixels) and ``seed``.
    """
    WARPS.get(method)
    image = check_image(image, min_side=1)
    shape = image.shape[:2]
    height, width = shape
    if method == "swirl":
        cx, cy = centre if centre is not None else ((width - 1) / 2, (height - 1) / 2)
        reach = radius if radius is not None else min(shape) / 4
        if reach <= 0:
            raise InputError(f"swirl radius must be > 0, got {reach}")
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        dx, dy = xs - cx, ys - cy
        distance = np.hypot(dx, dy)
        angle = strength * np.exp(-distance / (np.log(2) * reach / 5)) + np.arctan2(dy, dx)
        return remap(
            image, cx + distance * np.cos(angle), cy + distance * np.sin(angle), order=order, mode=mode, cval=cval
        )
    if method == "elastic":
        if sigma <= 0:
            raise InputError(f"elastic sigma must be > 0, got {sigma}")
        rng = np.random.default_rng(seed)
        field = rng.standard_normal((2, height, width)).astype(np.float32) * strength
        size = int(4 * sigma) | 1
        dx = (
            cv2.GaussianBlur(field[0], (size, size), sigma) * sigma
        )  # smoothing shrinks the std by ~1/(2 sqrt(pi) sigma)
        dy = cv2.GaussianBlur(field[1], (size, size), sigma) * sigma
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        return remap(image, xs + dx, ys + dy, order=order, mode=mode, cval=cval)
    if src is None or dst is None:
        raise InputError(f"{method} needs control points: src and dst")
    src, dst = check_points(src, dst, method)
    if method in ("affine", "similarity", "projective"):
        return warp_matrix(image, estimate_transform(method, src, dst), order=order, mode=mode, cval=cval)
    if method == "mesh":
        map_x, map_y = mesh_map(src, dst, shape)
        return remap(image, map_x, map_y, order=order, mode=mode, cval=cval)
    if method == "tps":
        backward = thin_plate_spline(dst, src)
    else:
        backward = moving_least_squares(dst, src, method.split("-", 1)[1], alpha=alpha)
    map_x, map_y = _dense_map(backward, shape, grid, exact_near=dst)
    return remap(image, map_x, map_y, order=order, mode=mode, cval=cval)


# -- the table ---------------------------------------------------------------------------------------------
_WARP_OPTIONS = {
    "order": ("interpolation: 0 nearest, 1 bilinear, 3 bicubic", (0, 1, 3)),
    "mode": ("what lies outside the image", tuple(MODES)),
    "grid": "evaluate the map every N pixels and interpolate (1 = every pixel)",
    "strength": "swirl: turns; elastic: displacement std in pixels before smoothing",
    "radius": "swirl radius in pixels (default: a quarter of the smaller side)",
    "sigma": "elastic: smoothing in pixels",
    "seed": "elastic: random seed",
}


def _warp_entry(name: str, description: str, options: tuple[str, ...] = (), minimum_points: int = 0) -> Method:
    """``warp`` bound to one method; call as ``entry(image, src=..., dst=..., **options)``."""
    return method(
        name,
        warp,
        description,
        options={key: _WARP_OPTIONS[key] for key in ("order", "mode", *options)},
        needs=("points",) if minimum_points else (),
        info={"minimum_points": minimum_points},
        method=name,
    )


WARPS: Table[Method] = Table("warp method")
for _warp in (
    _warp_entry("affine", "least-squares affine map of the control points", (), 3),
    _warp_entry("similarity", "rotation, uniform scale and shift (Umeyama)", (), 2),
    _warp_entry("projective", "homography: perspective change (needs 4 points)", (), 4),
    _warp_entry("tps", "thin-plate spline through every control point", ("grid",), 3),
    _warp_entry("mls-affine", "moving least squares, affine (Schaefer et al. 2006)", ("grid",), 3),
    _warp_entry("mls-similarity", "moving least squares, similarity: no shear", ("grid",), 2),
    _warp_entry("mls-rigid", "moving least squares, rigid: as-rigid-as-possible dragging", ("grid",), 2),
    _warp_entry("mesh", "piecewise-affine map on a Delaunay triangulation of the points", (), 3),
    _warp_entry("swirl", "rotation falling off with distance from the centre (no points)", ("strength", "radius")),
    _warp_entry(
        "elastic", "smoothed random displacement field (Simard et al. 2003; no points)", ("strength", "sigma", "seed")
    ),
):
    WARPS.add(_warp)
