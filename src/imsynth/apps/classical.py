"""File-level entry points of the classical commands (``texture``, ``resize``, ``blend``): read, check, call the
numpy API in ``imsynth.classical``, write atomically."""

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
