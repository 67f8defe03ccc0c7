"""``imsynth inpaint``: fill the hole of an image file given a mask file, by a method of the inpainting table.

Model methods need ``--model RUN``: ``gan`` inverts a trained generator from the known pixels, then blends
G(z) into the hole (any run with a Gaussian latent, VAE runs included); ``diffusion`` samples the hole with a
trained diffusion run by RePaint resampling. Classical methods work on any image. Known pixels are never changed.
The mask is checked once, here at the boundary; the methods receive a checked boolean HxW (True = hole).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..classical.inpainting import INPAINTING
from ..errors import ImsynthError, InputError
from ..image import check_output, load_image, output_depth, read_image, save_image
from ..masks import check_mask, load_mask
from ..metrics.features import load_feature_net
from ..models import GenerativeModel, Inpainter, LatentModel, load_run
from ..runtime.tensors import numpy_to_tensor, tensor_to_image
from ..tables import Table, method
from .inversion import inpaint_with_model


def inpaint_with_gan(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    model: GenerativeModel,
    labels=None,
    steps: int = 300,
    restarts: int = 4,
    seed: int = 0,
    feature_net=None,
) -> np.ndarray:
    if isinstance(model, Inpainter) or not isinstance(model, LatentModel):
        hint = "; use --method diffusion" if isinstance(model, Inpainter) else ""
        raise InputError(f"model {model.registered_name!r} has no generator latent to invert{hint}")
    return inpaint_with_model(
        model, image, mask, labels=labels, steps=steps, restarts=restarts, seed=seed, feature_net=feature_net
    )


def inpaint_with_diffusion(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    model: GenerativeModel,
    labels=None,
    steps: int = 100,
    jump_length: int = 10,
    resamplings: int = 5,
    seed: int = 0,
) -> np.ndarray:
    if not isinstance(model, Inpainter):
        raise InputError(f"model {model.registered_name!r} is not a diffusion model; use --method gan")
    device = next(model.parameters()).device
    known = numpy_to_tensor(image).to(device)
    hole = torch.from_numpy(mask)[None, None].to(device)
    options = {"steps": steps, "jump_length": jump_length, "resamplings": resamplings}
    generator = torch.Generator().manual_seed(seed)
    with tqdm(
        total=model.inpaint_steps(**options), desc="repaint", unit="step", disable=not sys.stderr.isatty()
    ) as bar:
        filled = model.inpaint(known, hole, labels=labels, generator=generator, progress=bar.update, **options)
    result = tensor_to_image(filled, image)
    return np.where(mask.reshape(mask.shape + (1,) * (image.ndim - 2)), result, image).astype(np.float32)


# the model methods: a table of their own (the classical table holds only what needs no run), and the union of the
# two, which ``imsynth inpaint`` offers
MODEL_INPAINTING: Table = Table("inpainting method")
MODEL_INPAINTING.add(
    method(
        "gan",
        inpaint_with_gan,
        "invert a GAN or VAE run (--model) from the known pixels, blend G(z) in",
        options={"steps": "inversion steps", "restarts": "random starts, best kept", "seed": "random seed"},
        needs=("model",),
    )
)
MODEL_INPAINTING.add(
    method(
        "diffusion",
        inpaint_with_diffusion,
        "RePaint resampling with a diffusion run (--model)",
        options={
            "steps": "reverse-process steps",
            "jump_length": "RePaint jump length (steps gone back up each time)",
            "resamplings": "RePaint passes over each segment (1 = plain replacement)",
            "seed": "random seed",
        },
        needs=("model",),
    )
)
INPAINT_METHODS = Table.union(INPAINTING.family, INPAINTING, MODEL_INPAINTING)


def _check_model_use(method: str, needs_model: bool, model_given: bool) -> None:
    if needs_model and not model_given:
        raise InputError(f"--method {method} needs --model RUN (a trained run directory)")
    if model_given and not needs_model:
        raise InputError(f"--model applies to the model methods ({', '.join(INPAINT_METHODS.names(tag='model'))})")


def _fill(entry, image: np.ndarray, mask: np.ndarray, model, labels, feature_net, options: dict) -> np.ndarray:
    """Call a checked method on a checked image and mask (classical functions check their own inputs too)."""
    if "model" not in entry.needs:
        return entry(image, mask, **options)
    extra = {"feature_net": feature_net} if entry.name == "gan" else {}
    return entry(image, mask, model=model, labels=labels, **options, **extra)


def inpaint_array(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    method: str,
    model: GenerativeModel | None = None,
    labels: torch.Tensor | None = None,
    feature_net=None,
    where: str = "mask",
    **options,
) -> np.ndarray:
    """Fill ``mask`` (True = hole) of ``image`` (HxW or HxWxC float [0, 1]) by the named method; ``options`` are
    the method's own (see ``INPAINT_METHODS.get(method).options``)."""
    entry = INPAINT_METHODS.get(method)
    INPAINT_METHODS.check_options(method, options)
    _check_model_use(method, "model" in entry.needs, model is not None)
    if model is not None:
        mask = check_mask(mask, image.shape, where=where)
    return _fill(entry, image, mask, model, labels, feature_net, options)


def _load_model(run, image: np.ndarray, image_path, *, class_index: int | None, device: str, method: str):
    model, saved = load_run(run, device=device)
    size, channels = model.config.image_size, model.config.channels
    image_channels = 1 if image.ndim == 2 else image.shape[2]
    if image.shape[:2] != (size, size) or image_channels != channels:
        raise InputError(
            f"{image_path}: image is {image.shape[1]}x{image.shape[0]} with {image_channels} "
            f"channel(s); the model {run} makes {size}x{size} images with {channels}"
        )
    if class_index is None and model.conditional:
        raise InputError(f"{run} is class-conditional: say which class the image shows with --class K")
    labels = None if class_index is None else model.class_labels(1, class_index=class_index)
    feature_net = None
    if method == "gan":
        try:
            feature_net, _ = load_feature_net(saved["data"]["name"])
        except ImsynthError:  # no in-domain features for this dataset: invert on pixels alone
            feature_net = None
    return model, labels, feature_net


def inpaint_file(
    image_path,
    mask_path,
    out,
    *,
    method: str,
    run=None,
    class_index: int | None = None,
    device: str = "auto",
    bit_depth: int | str = "auto",
    **options,
) -> Path:
    """Read, check once, fill, write atomically at the input's bit depth (or ``bit_depth``). ``options`` are the
    method's own; ``source`` (patchmatch) is an image path here."""
    entry = INPAINT_METHODS.get(method)
    INPAINT_METHODS.check_options(method, options)
    _check_model_use(method, "model" in entry.needs, run is not None)
    if class_index is not None and run is None:
        raise InputError("--class says the image's class to a model: it needs --model RUN")
    out = check_output(out)
    image, depth = read_image(image_path)
    depth = output_depth(out, bit_depth, depth)
    mask = check_mask(load_mask(mask_path), image.shape, where=str(mask_path), allow_full="full-mask" in entry.tags)
    if options.get("source") is not None:
        source_path = options["source"]
        options["source"] = load_image(source_path)
        image_channels = 1 if image.ndim == 2 else image.shape[2]
        source_channels = 1 if options["source"].ndim == 2 else options["source"].shape[2]
        if source_channels != image_channels:
            raise InputError(f"{source_path}: has {source_channels} channel(s), the image {image_channels}")
    model = labels = feature_net = None
    if run is not None:
        model, labels, feature_net = _load_model(
            run, image, image_path, class_index=class_index, device=device, method=method
        )
    return save_image(out, _fill(entry, image, mask, model, labels, feature_net, options), bit_depth=depth)
