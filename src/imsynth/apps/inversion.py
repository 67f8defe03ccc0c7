"""Generator inversion: find latent codes whose images match given images, by optimisation.

The objective per code is the mean squared error on the known pixels, plus (optionally) the squared
distance of in-domain features (the dataset's feature network, so it rewards matching content rather than
exact pixels), plus a weak prior that keeps codes at the norm of Gaussian samples. Several random starts
per image are optimised in one batch and the best is kept, since the objective has many local minima.
Used for reconstruction and for inpainting: invert from the known pixels only, then take the hole from the
generated image and blend it in (``inpaint_with_model``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..classical.interpolate import harmonic_fill
from ..errors import InputError
from ..models import LatentModel
from ..runtime.tensors import numpy_to_tensor, tensor_to_image

ADAM_BETAS = (0.9, 0.999)


@dataclass
class Inversion:
    latents: torch.Tensor  # (N, d) best code per image
    images: torch.Tensor  # (N, C, H, W) generated from them, [-1, 1]
    loss: torch.Tensor  # (N,) final objective of the best start


def invert(
    model: LatentModel,
    images: torch.Tensor,
    *,
    hole: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    steps: int = 300,
    restarts: int = 4,
    lr: float = 0.05,
    feature_net=None,
    feature_weight: float = 0.05,
    prior_weight: float = 1e-3,
    seed: int = 0,
    unroll: bool = False,
) -> Inversion:
    """Codes for ``images`` (N, C, H, W) in [-1, 1]. ``hole`` (N, 1, H, W) bool, True = unknown (the mask
    convention everywhere), marks pixels to ignore (default: none). ``feature_net``: a FeatureNet for the
    feature term (None: pixels only). ``unroll``: keep every optimisation step in the graph, so the result is
    differentiable with respect to ``images`` (second order through the generator: several times the cost)."""
    if not isinstance(model, LatentModel):
        raise InputError(f"model {model.registered_name!r} has no generator latent to invert")
    if images.ndim != 4:
        raise InputError(f"inversion takes a batch (N, C, H, W); got shape {tuple(images.shape)}")
    model.check_images(tuple(images.shape[1:]))
    if steps < 1 or restarts < 1:
        raise InputError("inversion needs steps >= 1 and restarts >= 1")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    model.requires_grad_(False)
    count, dim = len(images), model.latent_dim
    # start r of image i at row r * N + i; in the default dtype, so a float64 check of the unrolled gradient holds
    target = images.to(device, torch.get_default_dtype()).repeat(restarts, 1, 1, 1)
    weights = (torch.ones_like(images[:, :1]) if hole is None else (~hole.bool()).float()).to(device)
    weights = weights.repeat(restarts, 1, 1, 1)
    if weights.flatten(1).sum(dim=1).min() == 0:
        raise InputError("an image has no known pixels to invert from")
    code_labels = None
    if model.conditional:
        code_labels = model.check_labels(labels, count).to(device).repeat(restarts)
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randn(restarts * count, dim, generator=generator).to(device).requires_grad_(True)
    if feature_net is not None:
        feature_net = feature_net.to(device).eval().requires_grad_(False)

    def objective(codes: torch.Tensor) -> torch.Tensor:
        made = model.decode_latents(codes, code_labels)
        per_pixel = (made - target).pow(2).mean(dim=1, keepdim=True) * weights
        loss = per_pixel.flatten(1).sum(dim=1) / weights.flatten(1).sum(dim=1)
        if feature_net is not None and feature_weight > 0:
            # with a hole, compare against the known pixels completed by the current guess
            completed = weights * target + (1 - weights) * made
            loss = loss + feature_weight * (feature_net.features(made) - feature_net.features(completed)).pow(2).mean(
                dim=1
            )
        norm_gap = codes.pow(2).mean(dim=1) - 1.0
        return loss + prior_weight * norm_gap.pow(2)

    # Adam with a cosine learning rate, written out (torch.optim.Adam's update) so that with ``unroll`` every step
    # stays in the graph: the codes, and so the images made from them, are then a differentiable function of
    # ``images`` - what an attack needs to go through the projection exactly
    first, second = torch.zeros_like(codes), torch.zeros_like(codes)
    try:
        for step in tqdm(range(steps), desc="inverting", unit="step", leave=False, disable=not sys.stderr.isatty()):
            with torch.enable_grad():
                codes = codes if unroll else codes.detach().requires_grad_(True)
                (gradient,) = torch.autograd.grad(objective(codes).sum(), codes, create_graph=unroll)
            rate = lr * (1 + math.cos(math.pi * step / steps)) / 2
            first = ADAM_BETAS[0] * first + (1 - ADAM_BETAS[0]) * gradient
            second = ADAM_BETAS[1] * second + (1 - ADAM_BETAS[1]) * gradient.pow(2)
            corrected = (second / (1 - ADAM_BETAS[1] ** (step + 1)) + 1e-30).sqrt()  # + 1e-30: a finite derivative at 0
            codes = codes - rate / (1 - ADAM_BETAS[0] ** (step + 1)) * first / (corrected + 1e-8)
        with torch.no_grad():
            final = objective(codes).view(restarts, count)
            best = final.argmin(dim=0)
            rows = best * count + torch.arange(count, device=device)
        latents = codes[rows] if unroll else codes.detach()[rows]
        made = model.decode_latents(latents, None if code_labels is None else code_labels[rows])
    finally:
        model.requires_grad_(True)
        model.train(was_training)
    if unroll:
        return Inversion(latents, made.float(), final.min(dim=0).values)
    return Inversion(latents.cpu(), made.float().cpu(), final.min(dim=0).values.cpu())


def inpaint_with_model(
    model,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    labels=None,
    steps: int = 300,
    restarts: int = 4,
    feature_net=None,
    seed: int = 0,
    blend: str = "poisson",
) -> np.ndarray:
    """Fill the hole of ``image`` (HxW or HxWxC float [0, 1]; ``mask`` a checked bool HxW, True = hole) from the
    generator.

    Inverts from the known pixels, takes the hole from G(z), and blends it seamlessly: the difference between
    the image and G(z) on the hole's boundary is spread harmonically over the hole (Poisson blending with
    G(z)'s gradients as the guide), so no seam shows. Known pixels are returned unchanged.
    """
    image = np.asarray(image, dtype=np.float32)
    if not mask.any():
        return image.copy()
    planes = image[:, :, None] if image.ndim == 2 else image
    result = invert(
        model,
        numpy_to_tensor(planes),
        hole=torch.from_numpy(mask)[None, None],
        labels=labels,
        steps=steps,
        restarts=restarts,
        feature_net=feature_net,
        seed=seed,
    )
    generated = tensor_to_image(result.images[:1], planes)
    if blend == "poisson":
        difference = harmonic_fill(np.where(mask[:, :, None], 0.0, planes - generated), mask)
        fill = np.clip(generated + difference, 0.0, 1.0)
    elif blend == "none":
        fill = generated
    else:
        raise InputError(f"unknown blend {blend!r}; valid: poisson, none")
    output = np.where(mask[:, :, None], fill, planes).astype(np.float32)
    return output[:, :, 0] if image.ndim == 2 else output
