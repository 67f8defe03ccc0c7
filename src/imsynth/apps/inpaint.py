"""``imsynth inpaint``: fill the hole of an image file given a mask file, by a named method.

Model methods (``gan``: invert a trained generator from the known pixels, then blend G(z) into the hole;
any run with a Gaussian latent works, VAE runs included) need ``--model RUN``; classical methods work on
any image. Known pixels are never changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.masks import check_mask, load_mask
from ..errors import InputError
from ..image import load_image, save_image

MODEL_METHODS = ("gan",)
CLASSICAL_METHODS = ("harmonic",)
METHODS = MODEL_METHODS + CLASSICAL_METHODS


def inpaint_array(image: np.ndarray, mask: np.ndarray, *, method: str, model=None, labels=None, steps: int = 300,
                  restarts: int = 4, seed: int = 0, feature_net=None, where: str = "image") -> np.ndarray:
    if method not in METHODS:
        raise InputError(f"unknown inpainting method {method!r}; valid: {', '.join(METHODS)}")
    mask = check_mask(mask, image.shape, where=where)
    if method == "harmonic":
        from ..classical.interpolate import harmonic_fill

        return harmonic_fill(image, mask)
    from .inversion import inpaint_with_model

    return inpaint_with_model(model, image, mask, labels=labels, steps=steps, restarts=restarts, seed=seed,
                              feature_net=feature_net)


def inpaint_file(image_path, mask_path, out, *, method: str, run=None, class_index: int | None = None,
                 steps: int = 300, restarts: int = 4, seed: int = 0, device: str = "auto") -> Path:
    if method not in METHODS:
        raise InputError(f"unknown inpainting method {method!r}; valid: {', '.join(METHODS)}")
    image = load_image(image_path)
    mask = load_mask(mask_path)
    check_mask(mask, image.shape, where=str(mask_path))
    model = labels = feature_net = None
    if method in MODEL_METHODS:
        if run is None:
            raise InputError(f"--method {method} needs --model RUN (a trained run directory)")
        from ..metrics.features import load_feature_net
        from ..train import load_run

        model, saved = load_run(run, device=device)
        if not hasattr(model, "decode_latents"):
            raise InputError(f"{run}: model {saved['model']!r} has no latent space to invert")
        size, channels = model.config.image_size, model.config.channels
        image_channels = 1 if image.ndim == 2 else image.shape[2]
        if image.shape[:2] != (size, size) or image_channels != channels:
            raise InputError(f"{image_path}: image is {image.shape[1]}x{image.shape[0]} with {image_channels} "
                             f"channel(s); the model {run} makes {size}x{size} images with {channels}")
        if class_index is not None:
            labels = model.check_labels(torch.tensor([class_index]), 1)
        elif model.conditional:
            raise InputError(f"{run} is class-conditional: say which class the image shows with --class K")
        try:
            feature_net, _ = load_feature_net(saved["data"]["name"])
        except Exception:  # no in-domain features for this dataset: invert on pixels alone
            feature_net = None
    filled = inpaint_array(image, mask, method=method, model=model, labels=labels, steps=steps, restarts=restarts,
                           seed=seed, feature_net=feature_net, where=str(mask_path))
    return save_image(out, filled)
