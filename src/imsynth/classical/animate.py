"""Temporal deformation: keyframed control points rendered by warping, morphing one image into another, and
writing frame sequences (GIF, MP4, PNG folder).

Keyframes (JSON, coordinates (x, y) in pixels)::

    {"points": [[x, y], ...],                      # where the control points sit in the image
     "keyframes": [{"t": 0.0, "points": [...]}, {"t": 1.0, "points": [...]}],
     "fps": 12, "duration": 2.0, "interpolation": "cubic", "easing": "ease-in-out", "warp": "mls-rigid"}

``t`` is in seconds, strictly increasing; frames are rendered at k / fps for k = 0 .. round(duration * fps)
(the last frame at ``duration``); before the first and after the last keyframe the points hold still.
``interpolation``: ``linear`` or ``cubic`` (Catmull-Rom through the keyframes); ``easing`` reshapes time
within each segment (``linear``, ``ease-in``, ``ease-out``, ``ease-in-out``, ``smoothstep``).

Morphing (``morph``): frame k of N (s = k / (N - 1)) warps A and B toward the in-between geometry
(1 - s) * points_a + s * points_b and cross-dissolves them, (1 - s) A_warped + s B_warped: ``mesh`` (a Delaunay
mesh over corresponding points), ``beier-neely`` (feature lines, Beier & Neely 1992) or ``dissolve`` (no
warp). Frame 0 equals A and the last frame equals B. Images of different sizes: B (and its points or lines)
is resized to A's size first.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..image import check_allocation
from ..tables import Method, Table, method
from ._checks import check_image
from .warp import WARPS, check_points, mesh_map, remap, warp

EASINGS = {
    "linear": lambda s: s,
    "ease-in": lambda s: s * s,
    "ease-out": lambda s: 1 - (1 - s) ** 2,
    "ease-in-out": lambda s: np.where(s < 0.5, 2 * s * s, 1 - 2 * (1 - s) ** 2),
    "smoothstep": lambda s: s * s * (3 - 2 * s),
}
INTERPOLATIONS = ("linear", "cubic")


# -- keyframes ---------------------------------------------------------------------------------------------
def read_json(path, *, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object at the top level")
    return value


class Keyframes:
    """Validated keyframes; ``points_at(seconds)`` gives the control points at any time."""

    def __init__(self, spec: dict, *, where: str = "keyframes") -> None:
        self.where = where
        if "points" not in spec or "keyframes" not in spec:
            raise InputError(f"{where}: needs 'points' and 'keyframes'")
        rest = self._points(spec["points"], "points")
        frames = spec["keyframes"]
        if not isinstance(frames, list) or len(frames) < 1:
            raise InputError(f"{where}: 'keyframes' must be a non-empty list")
        times, shapes = [], []
        for index, frame in enumerate(frames):
            if not isinstance(frame, dict) or "t" not in frame or "points" not in frame:
                raise InputError(f"{where}: keyframes[{index}] needs 't' and 'points'")
            points = self._points(frame["points"], f"keyframes[{index}].points")
            if len(points) != len(rest):
                raise InputError(f"{where}: keyframes[{index}] has {len(points)} points, 'points' has {len(rest)}")
            times.append(self._number(frame["t"], f"keyframes[{index}].t"))
            shapes.append(points)
        if any(b <= a for a, b in zip(times, times[1:])):
            raise InputError(f"{where}: keyframe times must increase strictly, got {times}")
        self.rest, self.times, self.shapes = rest, np.array(times), np.stack(shapes)
        self.fps = self._number(spec.get("fps", 12), "fps")
        self.duration = self._number(spec.get("duration", max(times[-1], 1e-9)), "duration")
        if self.fps <= 0 or self.duration <= 0:
            raise InputError(f"{where}: fps and duration must be > 0")
        self.interpolation = spec.get("interpolation", "linear")
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(
                f"{where}: unknown interpolation {self.interpolation!r}; valid: {', '.join(INTERPOLATIONS)}"
            )
        self.easing = spec.get("easing", "linear")
        if self.easing not in EASINGS:
            raise InputError(f"{where}: unknown easing {self.easing!r}; valid: {', '.join(EASINGS)}")
        self.warp = spec.get("warp", "mls-rigid")
        if self.warp not in WARPS.names(tag="points"):
            raise InputError(
                f"{where}: unknown warp method {self.warp!r}; valid: {', '.join(WARPS.names(tag='points'))}"
            )
        check_points(rest, rest, self.warp, where=where)

    def _number(self, value, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise InputError(f"{self.where}: {name} must be a number, got {value!r}")
        return float(value)

    def _points(self, value, name: str) -> np.ndarray:
        try:
            points = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{self.where}: {name} must be a list of [x, y] pairs") from None
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise InputError(f"{self.where}: {name} must be a non-empty list of [x, y] pairs")
        return points

    @property
    def frame_count(self) -> int:
        return int(round(self.duration * self.fps)) + 1

    def points_at(self, seconds: float) -> np.ndarray:
        times, shapes = self.times, self.shapes
        if len(times) == 1 or seconds <= times[0]:
            return shapes[0].copy()
        if seconds >= times[-1]:
            return shapes[-1].copy()
        segment = int(np.searchsorted(times, seconds, side="right")) - 1
        local = (seconds - times[segment]) / (times[segment + 1] - times[segment])
        s = float(EASINGS[self.easing](np.float64(local)))
        if self.interpolation == "linear":
            return (1 - s) * shapes[segment] + s * shapes[segment + 1]
        # Catmull-Rom through the keyframes (end tangents from duplicated end keys), uniform parametrisation
        p0 = shapes[max(segment - 1, 0)]
        p1, p2 = shapes[segment], shapes[segment + 1]
        p3 = shapes[min(segment + 2, len(shapes) - 1)]
        return 0.5 * (
            (2 * p1) + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * s**3
        )


def animate(image, keyframes: Keyframes | dict, **warp_options) -> list[np.ndarray]:
    """Frames of ``image`` warped from the rest points to the keyframed points at each frame time."""
    image = check_image(image)
    keys = keyframes if isinstance(keyframes, Keyframes) else Keyframes(keyframes)
    check_allocation(keys.frame_count * image.size, where=f"{keys.frame_count} frames")
    frames = []
    for index in range(keys.frame_count):
        points = keys.points_at(min(index / keys.fps, keys.duration))
        if np.allclose(points, keys.rest):
            frames.append(image.copy())
        else:
            frames.append(warp(image, keys.warp, keys.rest, points, **warp_options))
    return frames


# -- morphing -----------------------------------------------------------------------------------------------
def _match_size(a: np.ndarray, b: np.ndarray, b_geometry: np.ndarray | None):
    if b.shape[:2] == a.shape[:2]:
        return b, b_geometry
    sy, sx = a.shape[0] / b.shape[0], a.shape[1] / b.shape[1]
    resized = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA if sx < 1 else cv2.INTER_CUBIC)
    resized = np.clip(resized.reshape(a.shape[:2] + b.shape[2:]), 0, 1).astype(np.float32)
    if b_geometry is not None:
        b_geometry = b_geometry * np.array([sx, sy])  # works for (N, 2) points and (L, 2, 2) lines alike
    return resized, b_geometry


def _channels_like(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    def planes(x):
        return x[:, :, None] if x.ndim == 2 else x

    a, b = planes(a), planes(b)
    channels = max(a.shape[2], b.shape[2])
    if a.shape[2] != b.shape[2]:
        if 1 not in (a.shape[2], b.shape[2]):
            raise InputError(f"cannot morph a {a.shape[2]}-channel image into a {b.shape[2]}-channel one")
        a = np.repeat(a, channels // a.shape[2], axis=2)
        b = np.repeat(b, channels // b.shape[2], axis=2)
    return a, b


def beier_neely_map(
    lines_to: np.ndarray,
    lines_from: np.ndarray,
    shape: tuple[int, int],
    *,
    a: float = 1.0,
    b: float = 2.0,
    p: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Backward map for output pixels X: each line pair (P, Q in the output, P', Q' in the source) proposes
    X' = P' + u (Q' - P') + v perp(Q' - P') / |Q' - P'|; proposals are averaged with weights
    (length^p / (a + distance))^b (Beier & Neely 1992)."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    total_x, total_y, total_w = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for (p_out, q_out), (p_src, q_src) in zip(lines_to, lines_from):
        direction = q_out - p_out
        length_sq = float(direction @ direction)
        perpendicular = np.array([-direction[1], direction[0]])
        dx, dy = xs - p_out[0], ys - p_out[1]
        u = (dx * direction[0] + dy * direction[1]) / length_sq
        v = (dx * perpendicular[0] + dy * perpendicular[1]) / np.sqrt(length_sq)
        source_direction = q_src - p_src
        source_perp = np.array([-source_direction[1], source_direction[0]]) / np.linalg.norm(source_direction)
        proposed_x = p_src[0] + u * source_direction[0] + v * source_perp[0]
        proposed_y = p_src[1] + u * source_direction[1] + v * source_perp[1]
        distance = np.where(u < 0, np.hypot(dx, dy), np.where(u > 1, np.hypot(xs - q_out[0], ys - q_out[1]), np.abs(v)))
        weight = (np.sqrt(length_sq) ** p / (a + distance)) ** b
        total_x += weight * proposed_x
        total_y += weight * proposed_y
        total_w += weight
    return total_x / total_w, total_y / total_w


def check_lines(lines_a, lines_b, *, where: str = "lines") -> tuple[np.ndarray, np.ndarray]:
    try:
        lines_a, lines_b = np.asarray(lines_a, np.float64), np.asarray(lines_b, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: lines must be lists of [[x1, y1], [x2, y2]]") from None
    for name, lines in (("lines_a", lines_a), ("lines_b", lines_b)):
        if lines.ndim != 3 or lines.shape[1:] != (2, 2) or len(lines) == 0:
            raise InputError(f"{where}: {name} must be a non-empty list of [[x1, y1], [x2, y2]] segments")
        if not np.isfinite(lines).all():
            raise InputError(f"{where}: {name} holds NaN or infinite coordinates")
        if (np.linalg.norm(lines[:, 1] - lines[:, 0], axis=1) < 1e-9).any():
            raise InputError(f"{where}: {name} has a segment of zero length")
    if len(lines_a) != len(lines_b):
        raise InputError(f"{where}: lines_a has {len(lines_a)} segments but lines_b has {len(lines_b)}")
    return lines_a, lines_b


def morph(
    a,
    b,
    *,
    frames: int = 30,
    method: str = "mesh",
    points_a=None,
    points_b=None,
    lines_a=None,
    lines_b=None,
    order: int = 1,
) -> list[np.ndarray]:
    """``frames`` images morphing ``a`` into ``b`` (see the module docstring)."""
    MORPHS.get(method)
    if frames < 2:
        raise InputError(f"a morph needs at least 2 frames, got {frames}")
    a = check_image(a, where="A")
    b = check_image(b, where="B")
    check_allocation(frames * max(a.size, b.size), where=f"{frames} frames")
    geometry_a = geometry_b = None
    if method == "mesh":
        if points_a is None or points_b is None:
            raise InputError("the mesh morph needs corresponding points: --points P.json with 'a' and 'b'")
        geometry_a, geometry_b = check_points(points_a, points_b, "mesh")
    elif method == "beier-neely":
        if lines_a is None or lines_b is None:
            raise InputError("the beier-neely morph needs feature lines: --lines L.json with 'lines_a' and 'lines_b'")
        geometry_a, geometry_b = check_lines(lines_a, lines_b)
    flat = a.ndim == 2 and b.ndim == 2
    b, geometry_b = _match_size(a, b, geometry_b)
    a, b = _channels_like(a, b)
    shape = a.shape[:2]
    result = []
    for index in range(frames):
        s = index / (frames - 1)
        if index == 0 or index == frames - 1 or method == "dissolve":
            frame = (1 - s) * a + s * b if 0 < index < frames - 1 else (a if index == 0 else b)
        else:
            between = (1 - s) * geometry_a + s * geometry_b
            if method == "mesh":
                from_a, from_b = mesh_map(geometry_a, between, shape), mesh_map(geometry_b, between, shape)
            else:
                from_a = beier_neely_map(between, geometry_a, shape)
                from_b = beier_neely_map(between, geometry_b, shape)
            warped_a = remap(a, *from_a, order=order, mode="edge")
            warped_b = remap(b, *from_b, order=order, mode="edge")
            frame = (1 - s) * warped_a + s * warped_b
        frame = np.asarray(frame, dtype=np.float32)
        result.append(frame[:, :, 0] if flat else frame)
    return result


MORPHS: Table[Method] = Table("morph method")
for _morph in (
    method(
        "mesh",
        morph,
        "piecewise-affine warps of both images towards the in-between points, cross-dissolved",
        needs=("points",),
        info={"keys": ("a", "b"), "arguments": ("points_a", "points_b"), "holds": "[x, y] points"},
        method="mesh",
    ),
    method(
        "beier-neely",
        morph,
        "field morphing by feature lines (Beier & Neely 1992), cross-dissolved",
        needs=("lines",),
        info={
            "keys": ("lines_a", "lines_b"),
            "arguments": ("lines_a", "lines_b"),
            "holds": "[[x1, y1], [x2, y2]] lines",
        },
        method="beier-neely",
    ),
    method("dissolve", morph, "a plain cross-dissolve (no geometry)", method="dissolve"),
):
    MORPHS.add(_morph)
