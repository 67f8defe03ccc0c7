"""What every attack shares: the input checks, the projection onto an Lp ball inside [0, 1], and the gradient of a
per-image loss averaged over EOT draws. Images are (B, C, H, W) in [0, 1]; ``eps`` is on that scale."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

NORMS = ("linf", "l2")
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> per-image loss (B,)


def check_batch(images: torch.Tensor, labels: torch.Tensor, eps: float | None = None, norm: str = "linf") -> None:
    """Refuse what no attack can use: a bad eps, a batch of the wrong shape, labels that do not match, pixels
    outside [0, 1]. An eps beyond the image range (1 for L-inf, the diagonal of the image for L2) is refused too:
    every image is reachable, so the robust accuracy it gives says nothing."""
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    if eps is not None and (not math.isfinite(eps) or eps < 0):
        raise InputError(f"--eps must be a number >= 0, got {eps}")
    if images.ndim != 4:
        raise InputError(f"attacks take a batch (B, C, H, W); got shape {tuple(images.shape)}")
    if eps is not None:
        widest = 1.0 if norm == "linf" else math.sqrt(images[0].numel())
        if eps > widest:
            raise InputError(
                f"--eps {eps} exceeds the image range: an {norm.upper()} ball of radius {widest:.4g} already holds "
                "every image in [0, 1]"
            )
    if len(labels) != len(images):
        raise InputError(f"{len(labels)} labels for {len(images)} images")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise InputError("attacks take images in [0, 1]")


def per_image(values: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1), to scale a batch of images per image."""
    return values.view(-1, *([1] * 3))


def l2_normalise(values: torch.Tensor) -> torch.Tensor:
    norms = values.flatten(1).norm(dim=1).clamp_min(1e-12)
    return values / norms.view(-1, *([1] * (values.dim() - 1)))


def project(adversarial: torch.Tensor, images: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """The nearest point of the ``norm`` ball of radius ``eps`` around ``images``, then clamped to [0, 1]."""
    delta = adversarial - images
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        norms = delta.flatten(1).norm(dim=1).view(-1, *([1] * (delta.dim() - 1)))
        delta = delta * torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)
    # clamping to [0, 1] only shrinks each coordinate of delta, so the result stays in the ball
    return (images + delta).clamp(0, 1)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


def loss_gradient(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eot: int, loss: Loss = cross_entropy
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(gradient, per-image loss, logits) at ``images``, each averaged over ``eot`` forward passes (EOT, for a
    random model: each pass draws its own randomness)."""
    if eot < 1:
        raise InputError(f"--eot must be >= 1, got {eot}")
    images = images.detach().requires_grad_(True)
    total, logits_sum = 0.0, 0.0
    with torch.enable_grad():
        for _ in range(eot):
            logits = model(images).float()
            total = total + loss(logits, labels)
            logits_sum = logits_sum + logits.detach()
        (gradient,) = torch.autograd.grad(total.sum() / eot, images)
    return gradient.detach(), (total / eot).detach(), logits_sum / eot
