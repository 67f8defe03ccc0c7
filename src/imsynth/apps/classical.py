"""File-level entry points of the classical commands (``texture``, ``resize``, ``blend``, ``warp``, ``animate``,
``morph``): read, check, call the numpy API in ``imsynth.classical``, write atomically. Errors name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..classical.pyramid import blend
from ..classical.resample import resize
from ..classical.texture import synthesize
from ..data.masks import load_mask
from ..errors import InputError
from ..image import load_image, save_image

PATCH_OPTION = {"efros-leung": "patch", "quilting": "block", "multiscale": "patch"}
# morph method -> (its option, what the lists hold, JSON keys, kind of file)
MORPH_GEOMETRY = {"mesh": ("--points P.json", "[x, y] points", ("a", "b"), "points"),
                  "beier-neely": ("--lines L.json", "[[x1, y1], [x2, y2]]", ("lines_a", "lines_b"), "lines")}


def texture_file(sample_path, out, *, size: tuple[int, int], method: str = "quilting", patch: int | None = None,
                 seed: int = 0) -> Path:
    sample = load_image(sample_path)
    options = {} if patch is None else {PATCH_OPTION.get(method, "patch"): patch}
    try:
        result = synthesize(sample, size, method=method, seed=seed, **options)
    except InputError as error:
        raise InputError(f"{sample_path}: {error}") from None
    return save_image(out, result)


def resize_file(image_path, out, *, scale: float | None = None, size: tuple[int, int] | None = None,
                method: str = "bicubic") -> Path:
    if (scale is None) == (size is None):
        raise InputError("give exactly one of --scale or --size")
    return save_image(out, resize(load_image(image_path), scale=scale, size=size, method=method))


def blend_files(a_path, b_path, mask_path, out, *, levels: int | None = None) -> Path:
    a, b = load_image(a_path), load_image(b_path)
    if a.shape != b.shape:
        raise InputError(f"{b_path}: is {b.shape[1]}x{b.shape[0]} with {1 if b.ndim == 2 else b.shape[2]} channel(s); "
                         f"{a_path} is {a.shape[1]}x{a.shape[0]} with {1 if a.ndim == 2 else a.shape[2]}")
    mask = load_mask(mask_path)
    if mask.shape != a.shape[:2]:
        raise InputError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the images are "
                         f"{a.shape[1]}x{a.shape[0]}")
    return save_image(out, blend(a, b, mask.astype(np.float32), levels))


def warp_file(image_path, out, *, method: str, points_path=None, **options) -> Path:
    from ..classical.animate import read_json
    from ..classical.warp import warp

    image = load_image(image_path)
    src = dst = None
    if method not in ("swirl", "elastic"):
        if points_path is None:
            raise InputError(f"--method {method} needs --points P.json with 'src' and 'dst'")
        spec = read_json(points_path, what="points")
        if "src" not in spec or "dst" not in spec:
            raise InputError(f"{points_path}: needs 'src' and 'dst' lists of [x, y] points")
        src, dst = spec["src"], spec["dst"]
    try:
        return save_image(out, warp(image, method, src, dst, **options))
    except InputError as error:
        raise InputError(f"{points_path or image_path}: {error}") from None


def animate_file(image_path, keyframes_path, out, *, fps: float | None = None) -> Path:
    from ..classical.animate import Keyframes, animate, read_json, write_frames

    image = load_image(image_path)
    spec = read_json(keyframes_path, what="keyframes")
    if fps is not None:
        spec = {**spec, "fps": fps}
    keys = Keyframes(spec, where=str(keyframes_path))
    return write_frames(animate(image, keys), out, fps=keys.fps)


def morph_files(a_path, b_path, out, *, frames: int = 30, method: str | None = None, points_path=None,
                lines_path=None, fps: float = 12.0) -> Path:
    from ..classical.animate import morph, read_json, write_frames

    a, b = load_image(a_path), load_image(b_path)
    method = method or ("mesh" if points_path else "beier-neely" if lines_path else "dissolve")
    options: dict = {}
    source = None
    if method in MORPH_GEOMETRY:
        option, holds, keys, what = MORPH_GEOMETRY[method]
        source = {"points": points_path, "lines": lines_path}[what]
        if source is None:
            raise InputError(f"--method {method} needs {option} with {' and '.join(repr(k) for k in keys)}")
        spec = read_json(source, what=what)
        if any(key not in spec for key in keys):
            raise InputError(f"{source}: needs {' and '.join(repr(k) for k in keys)} lists of {holds}")
        options = dict(zip(("points_a", "points_b") if what == "points" else keys, (spec[k] for k in keys)))
    try:
        result = morph(a, b, frames=frames, method=method, **options)
    except InputError as error:
        raise InputError(f"{source}: {error}" if source else str(error)) from None
    return write_frames(result, out, fps=fps)
