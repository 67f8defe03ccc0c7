"""``imsynth inpaint``: fill the hole of an image file given a mask file, by a named method.

Model methods need ``--model RUN``: ``gan`` inverts a trained generator from the known pixels, then blends
G(z) into the hole (any run with a Gaussian latent, VAE runs included); ``diffusion`` samples the hole with a
trained diffusion run by RePaint resampling. Classical methods work on any image. Known pixels are never changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.masks import check_mask, load_mask
from ..errors import InputError
from ..image import load_image, save_image

MODEL_METHODS = ("gan", "diffusion")


def _classical_methods() -> dict:
    from ..classical import exemplar, fill, interpolate, pyramid

    return {
        "fill-constant": fill.fill_constant,
        "fill-mean": fill.fill_mean,
        "fill-nearest": fill.fill_nearest,
        "interp-nearest": lambda image, mask: interpolate.scattered_fill(image, mask, method="nearest"),
        "interp-linear": lambda image, mask: interpolate.scattered_fill(image, mask, method="linear"),
        "interp-cubic": lambda image, mask: interpolate.scattered_fill(image, mask, method="cubic"),
        "rbf": interpolate.rbf_fill,
        "harmonic": interpolate.harmonic_fill,
        "biharmonic": interpolate.biharmonic_fill,
        "push-pull": pyramid.push_pull_fill,
        "exemplar": exemplar.criminisi_inpaint,
        "patchmatch": exemplar.patchmatch_inpaint,
    }


CLASSICAL_METHODS = ("fill-constant", "fill-mean", "fill-nearest", "interp-nearest", "interp-linear", "interp-cubic",
                     "rbf", "harmonic", "biharmonic", "push-pull", "exemplar", "patchmatch")
PATCH_METHODS = ("exemplar", "patchmatch")
METHODS = MODEL_METHODS + CLASSICAL_METHODS


def inpaint_array(image: np.ndarray, mask: np.ndarray, *, method: str, model=None, labels=None,
                  steps: int | None = None, restarts: int = 4, jump_length: int = 10, resamplings: int = 5,
                  seed: int = 0, feature_net=None, patch: int | None = None, source: np.ndarray | None = None,
                  where: str = "image") -> np.ndarray:
    """Fill ``mask`` (True = hole) of ``image`` (HxW or HxWxC float [0, 1]). ``steps``: inversion steps for
    ``gan`` (default 300), reverse-process steps for ``diffusion`` (default 100); ``patch`` and ``source``
    (patches from another image) for ``exemplar``/``patchmatch``."""
    if method not in METHODS:
        raise InputError(f"unknown inpainting method {method!r}; valid: {', '.join(METHODS)}")
    mask = check_mask(mask, image.shape, where=where, allow_full=method == "fill-constant")
    if (patch is not None or source is not None) and method not in PATCH_METHODS:
        raise InputError(f"--patch and --source apply to {' and '.join(PATCH_METHODS)}, not {method}")
    if source is not None and method != "patchmatch":
        raise InputError("--source applies to --method patchmatch")
    if method in CLASSICAL_METHODS:
        function = _classical_methods()[method]
        options = {} if patch is None else {"patch": patch}
        if method == "patchmatch":
            options.update(seed=seed, source=source)
        return function(image, mask, **options)
    if method == "diffusion":
        return _inpaint_with_diffusion(model, image, mask, labels=labels, steps=steps or 100, jump_length=jump_length,
                                       resamplings=resamplings, seed=seed)
    from .inversion import inpaint_with_model

    return inpaint_with_model(model, image, mask, labels=labels, steps=steps or 300, restarts=restarts, seed=seed,
                              feature_net=feature_net)


def _inpaint_with_diffusion(model, image: np.ndarray, mask: np.ndarray, *, labels, steps: int, jump_length: int,
                            resamplings: int, seed: int) -> np.ndarray:
    import sys

    from tqdm import tqdm

    from ..models.diffusion import repaint_moves

    if not hasattr(model, "inpaint"):
        raise InputError(f"model {model.registered_name!r} is not a diffusion model; use --method gan")
    device = next(model.parameters()).device
    pixels = image if image.ndim == 3 else image[:, :, None]
    known = (torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32))[None] * 2 - 1).to(device)
    hole = torch.from_numpy(mask)[None, None].to(device)
    reverse_steps = repaint_moves(steps, jump_length, resamplings).count(-1)
    generator = torch.Generator().manual_seed(seed)
    with tqdm(total=reverse_steps, desc="repaint", unit="step", disable=not sys.stderr.isatty()) as bar:
        filled = model.inpaint(known, hole, labels=labels, generator=generator, steps=steps, jump_length=jump_length,
                               resamplings=resamplings, progress=bar.update)
    result = ((filled[0].float().cpu().numpy().transpose(1, 2, 0) + 1) / 2).clip(0, 1).reshape(image.shape)
    return np.where(mask.reshape(mask.shape + (1,) * (image.ndim - 2)), result, image).astype(image.dtype)


def inpaint_file(image_path, mask_path, out, *, method: str, run=None, class_index: int | None = None,
                 steps: int | None = None, restarts: int = 4, jump_length: int = 10, resamplings: int = 5,
                 seed: int = 0, patch: int | None = None, source_path=None, device: str = "auto") -> Path:
    if method not in METHODS:
        raise InputError(f"unknown inpainting method {method!r}; valid: {', '.join(METHODS)}")
    image = load_image(image_path)
    mask = load_mask(mask_path)
    check_mask(mask, image.shape, where=str(mask_path), allow_full=method == "fill-constant")
    source = None
    if source_path is not None:
        source = load_image(source_path)
        image_channels = 1 if image.ndim == 2 else image.shape[2]
        source_channels = 1 if source.ndim == 2 else source.shape[2]
        if source_channels != image_channels:
            raise InputError(f"{source_path}: has {source_channels} channel(s), the image {image_channels}")
    model = labels = feature_net = None
    if method in MODEL_METHODS:
        if run is None:
            raise InputError(f"--method {method} needs --model RUN (a trained run directory)")
        from ..metrics.features import load_feature_net
        from ..train import load_run

        model, saved = load_run(run, device=device)
        diffusion = hasattr(model, "inpaint")
        if method == "diffusion" and not diffusion:
            raise InputError(f"{run}: model {saved['model']!r} is not a diffusion model; use --method gan")
        if method == "gan" and (diffusion or not hasattr(model, "decode_latents")):
            hint = "; use --method diffusion" if diffusion else ""
            raise InputError(f"{run}: model {saved['model']!r} has no generator latent to invert{hint}")
        size, channels = model.config.image_size, model.config.channels
        image_channels = 1 if image.ndim == 2 else image.shape[2]
        if image.shape[:2] != (size, size) or image_channels != channels:
            raise InputError(f"{image_path}: image is {image.shape[1]}x{image.shape[0]} with {image_channels} "
                             f"channel(s); the model {run} makes {size}x{size} images with {channels}")
        if class_index is not None:
            labels = model.check_labels(torch.tensor([class_index]), 1)
        elif model.conditional:
            raise InputError(f"{run} is class-conditional: say which class the image shows with --class K")
        if method == "gan":
            try:
                feature_net, _ = load_feature_net(saved["data"]["name"])
            except Exception:  # no in-domain features for this dataset: invert on pixels alone
                feature_net = None
    filled = inpaint_array(image, mask, method=method, model=model, labels=labels, steps=steps, restarts=restarts,
                           jump_length=jump_length, resamplings=resamplings, seed=seed, feature_net=feature_net,
                           patch=patch, source=source, where=str(mask_path))
    return save_image(out, filled)
