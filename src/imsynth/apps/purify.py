"""Purification by a trained run: project images onto what the model has learnt. One table, ``PURIFIERS``, serves
both restoration (``imsynth denoise --model``: the entries are denoising methods) and the robustness defences
(``vae``, ``gan``, ``diffusion``: the same functions, so a defence is exactly the restorer it is named after).

Each entry is ``function(*, model, **options) -> Purification``; a purification maps images (B, C, H, W) in [0, 1]
to the same, and says whether it is differentiable (an attack may go through it) and random (EOT applies). What a
run can do is read from its family's declared ``capabilities``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..models import GenerativeModel
from ..models.samplers import SAMPLERS
from ..tables import Table, method
from .inversion import invert

__all__ = ["PURIFIERS", "Purification", "method_for"]


@dataclass(frozen=True)
class Purification:
    purify: Callable[[torch.Tensor], torch.Tensor]
    differentiable: bool
    random: bool


def _model_input(model: GenerativeModel, images: torch.Tensor) -> torch.Tensor:
    model.check_images(tuple(images.shape[1:]))
    return images.to(next(model.parameters()).device) * 2 - 1


def _require(model: GenerativeModel, needs: set[str], refusal: str) -> None:
    if not needs <= model.capabilities:
        raise InputError(f"model {model.registered_name!r} {refusal}")


def encode_decode(*, model: GenerativeModel) -> Purification:
    _require(model, {"encoder", "purifier"}, "has no encoder; use a VAE run (vae, dvae or defense-vae)")

    def purify(images: torch.Tensor) -> torch.Tensor:
        return ((model.purify(_model_input(model, images)) + 1) / 2).to(images)

    return Purification(purify, differentiable=True, random=False)


def projection(*, model: GenerativeModel, steps: int = 200, restarts: int = 4, seed: int = 0) -> Purification:
    if "latent" not in model.capabilities or "iterative-sampler" in model.capabilities:
        raise InputError(f"model {model.registered_name!r} has no generator latent to project onto; use a GAN run")

    def purify(images: torch.Tensor) -> torch.Tensor:
        # with gradients enabled (an exact attack) the inversion is unrolled, so they flow back to the images
        unroll = torch.is_grad_enabled()
        made = invert(model, _model_input(model, images), steps=steps, restarts=restarts, seed=seed, unroll=unroll)
        return ((made.images + 1) / 2).to(images)

    return Purification(purify, differentiable=True, random=False)


def diffusion(
    *,
    model: GenerativeModel,
    strength: float | None = None,
    steps: int | None = None,
    sampler: str = "ddpm",
    seed: int = 0,
) -> Purification:
    _require(model, {"purifier", "iterative-sampler"}, "is not a diffusion run")
    generator = torch.Generator().manual_seed(seed)  # one stream: fresh noise per call, reproducible per run

    def purify(images: torch.Tensor) -> torch.Tensor:
        made = model.purify(
            _model_input(model, images), strength=strength, steps=steps, sampler=sampler, generator=generator
        )
        return ((made + 1) / 2).to(images)

    # differentiable: with gradients enabled the whole reverse chain is kept (checkpointed) for an exact attack
    return Purification(purify, differentiable=True, random=True)


MODEL = ("model",)
PURIFIERS: Table = Table("purifier")
PURIFIERS.add(
    method(
        "encode-decode",
        encode_decode,
        "decode a VAE run's posterior mean (--model; dvae runs are trained for it)",
        needs=MODEL,
    )
)
PURIFIERS.add(
    method(
        "projection",
        projection,
        "invert a GAN run from the damaged image, keep G(z) (--model)",
        options={"steps": "inversion steps", "restarts": "random starts, best kept", "seed": "random seed"},
        needs=MODEL,
    )
)
PURIFIERS.add(
    method(
        "diffusion",
        diffusion,
        "noise a diffusion run's input to t* and denoise back (--model; SDEdit/DiffPure)",
        options={
            "strength": "damage as a noise std on the 0-1 scale, sets t* (default: estimated / the run's)",
            "steps": "reverse steps from t* (default: the run's sample steps x t*/T)",
            "sampler": ("the reverse process from t* (ddpm adds fresh noise: random, as DiffPure)", SAMPLERS.names()),
            "seed": "random seed",
        },
        needs=MODEL,
    )
)


def method_for(model: GenerativeModel) -> str:
    """The purifier a run supports, from its declared capabilities: encode-decode for encoders, diffusion for
    diffusion runs, else projection onto a generator's range."""
    declared = model.capabilities
    if {"encoder", "purifier"} <= declared:
        return "encode-decode"
    if {"iterative-sampler", "purifier"} <= declared:
        return "diffusion"
    if "latent" in declared:
        return "projection"
    raise InputError(f"model {model.registered_name!r} cannot restore images")
