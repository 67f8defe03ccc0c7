"""File-level entry points of the classical commands (``texture``, ``resize``, ``blend``, ``warp``, ``animate``,
``morph``): check the output path, read at full precision, call the numpy API in ``imsynth.classical``, write
atomically at the input's bit depth (or ``bit_depth``). Errors name the file. No torch here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..classical.animate import MORPHS, Keyframes, animate, read_json
from ..classical.pyramid import blend
from ..classical.resample import resize
from ..classical.texture import synthesize
from ..classical.warp import WARPS
from ..clips import CLIP_OUTPUTS, write_frames
from ..errors import InputError
from ..image import check_output, output_depth, read_image, save_image
from ..masks import load_mask


def texture_file(
    sample_path,
    out,
    *,
    size: tuple[int, int],
    method: str = "quilting",
    seed: int = 0,
    bit_depth: int | str = "auto",
    **options,
) -> Path:
    out = check_output(out)
    sample, depth = read_image(sample_path)
    try:
        result = synthesize(sample, size, method=method, seed=seed, **options)
    except InputError as error:
        raise InputError(f"{sample_path}: {error}") from None
    return save_image(out, result, bit_depth=output_depth(out, bit_depth, depth))


def resize_file(
    image_path,
    out,
    *,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    method: str = "bicubic",
    bit_depth: int | str = "auto",
) -> Path:
    if (scale is None) == (size is None):
        raise InputError("give exactly one of --scale or --size")
    out = check_output(out)
    image, depth = read_image(image_path)
    return save_image(
        out, resize(image, scale=scale, size=size, method=method), bit_depth=output_depth(out, bit_depth, depth)
    )


def blend_files(a_path, b_path, mask_path, out, *, levels: int | None = None, bit_depth: int | str = "auto") -> Path:
    out = check_output(out)
    (a, depth_a), (b, depth_b) = read_image(a_path), read_image(b_path)
    if a.shape != b.shape:
        raise InputError(
            f"{b_path}: is {b.shape[1]}x{b.shape[0]} with {1 if b.ndim == 2 else b.shape[2]} channel(s); "
            f"{a_path} is {a.shape[1]}x{a.shape[0]} with {1 if a.ndim == 2 else a.shape[2]}"
        )
    mask = load_mask(mask_path)
    if mask.shape != a.shape[:2]:
        raise InputError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but the images are {a.shape[1]}x{a.shape[0]}"
        )
    result = blend(a, b, mask.astype(np.float32), levels)
    return save_image(out, result, bit_depth=output_depth(out, bit_depth, max(depth_a, depth_b)))


def warp_file(image_path, out, *, method: str, points_path=None, bit_depth: int | str = "auto", **options) -> Path:
    entry = WARPS.get(method)
    WARPS.check_options(method, options)
    out = check_output(out)
    image, depth = read_image(image_path)
    src = dst = None
    if "points" in entry.needs:
        if points_path is None:
            raise InputError(f"--method {method} needs --points P.json with 'src' and 'dst'")
        spec = read_json(points_path, what="points")
        if "src" not in spec or "dst" not in spec:
            raise InputError(f"{points_path}: needs 'src' and 'dst' lists of [x, y] points")
        src, dst = spec["src"], spec["dst"]
    elif points_path is not None:
        raise InputError(
            f"--method {method} takes no --points; point-based warps: {', '.join(WARPS.names(tag='points'))}"
        )
    try:
        result = entry(image, src=src, dst=dst, **options)
    except InputError as error:
        raise InputError(f"{points_path or image_path}: {error}") from None
    return save_image(out, result, bit_depth=output_depth(out, bit_depth, depth))


def animate_file(image_path, keyframes_path, out, *, fps: float | None = None) -> Path:
    check_output(out, suffixes=CLIP_OUTPUTS, folder_ok=True)
    image, _ = read_image(image_path)
    spec = read_json(keyframes_path, what="keyframes")
    if fps is not None:
        spec = {**spec, "fps": fps}
    keys = Keyframes(spec, where=str(keyframes_path))
    return write_frames(animate(image, keys), out, fps=keys.fps)


def morph_files(
    a_path,
    b_path,
    out,
    *,
    frames: int = 30,
    method: str | None = None,
    points_path=None,
    lines_path=None,
    fps: float = 12.0,
) -> Path:
    check_output(out, suffixes=CLIP_OUTPUTS, folder_ok=True)
    method = method or ("mesh" if points_path else "beier-neely" if lines_path else "dissolve")
    entry = MORPHS.get(method)
    given = {"points": points_path, "lines": lines_path}
    for kind, path in given.items():
        if path is not None and kind not in entry.needs:
            raise InputError(f"--{kind} does not apply to the {method} morph")
    a, _ = read_image(a_path)
    b, _ = read_image(b_path)
    options: dict = {}
    source = None
    for kind in entry.needs:
        source = given[kind]
        keys = entry.info["keys"]
        if source is None:
            raise InputError(f"--method {method} needs --{kind} FILE.json with {' and '.join(map(repr, keys))}")
        spec = read_json(source, what=kind)
        if any(key not in spec for key in keys):
            raise InputError(f"{source}: needs {' and '.join(map(repr, keys))} lists of {entry.info['holds']}")
        options = dict(zip(entry.info["arguments"], (spec[key] for key in keys)))
    try:
        result = entry(a, b, frames=frames, **options)
    except InputError as error:
        raise InputError(f"{source}: {error}" if source else str(error)) from None
    return write_frames(result, out, fps=fps)
