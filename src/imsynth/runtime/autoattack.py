"""The attacks of AutoAttack (Croce & Hein 2020): APGD with cross-entropy or the DLR loss (untargeted or
targeted), and the gradient-free Square attack (Andriushchenko et al. 2020). Written here rather than taken from
torchattacks, whose package declares torchvision (which imsynth cannot depend on); benchmarks/robustness.py checks
both against torchattacks 3.5.1 on the same images.

Conventions as in ``imsynth.runtime.attacks``: a model maps images (B, C, H, W) in [0, 1] to logits; each attack
returns adversarial images in the ``eps`` ball and in [0, 1] - per image, a misclassified point if one was found,
else the strongest point seen.

APGD is PGD without a step size to choose: it starts at 2 eps, keeps momentum 0.75, and at checkpoints at 22%, 41%,
57%, ... of the budget halves the step (and goes back to the best point) for each image whose loss rose in fewer
than ``rho`` of the steps since the last checkpoint, or whose best loss did not move while its step size did not
either. The DLR loss is scale-free, so a defence cannot hide behind a flat softmax; the targeted variant pushes
towards each of the ``targets`` most likely wrong classes in turn.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import InputError
from .perturbation import Loss, check_batch, cross_entropy, l2_normalise, loss_gradient, per_image, project


def dlr(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Difference of logits ratio: -(z_y - max_{i != y} z_i) / (z_(1) - z_(3)), invariant to shifting and scaling
    the logits."""
    ranked = logits.sort(dim=1).values
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = torch.where(logits.argmax(1) == labels, ranked[:, -2], ranked[:, -1])
    return -(true - other) / (ranked[:, -1] - ranked[:, -3] + 1e-12)


def targeted_dlr(targets: torch.Tensor) -> Loss:
    """-(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2): higher as the target class ``t`` overtakes the true one."""

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        ranked = logits.sort(dim=1).values
        true = logits.gather(1, labels[:, None]).squeeze(1)
        target = logits.gather(1, targets[:, None]).squeeze(1)
        return -(true - target) / (ranked[:, -1] - (ranked[:, -3] + ranked[:, -4]) / 2 + 1e-12)

    return loss


def checkpoints(steps: int) -> list[int]:
    """The iterations where APGD may halve its step: p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
    0.06), as fractions of ``steps`` - in whole steps, as the reference code counts them (so no rounding drift)."""
    gap, shrink, shortest = max(int(0.22 * steps), 1), max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    marks, position = [], gap
    while position < steps:
        marks.append(position)
        gap = max(gap - shrink, shortest)
        position += gap
    return marks


def _start(images: torch.Tensor, eps: float, norm: str, generator: torch.Generator) -> torch.Tensor:
    """A random point on the ball's boundary (as AutoAttack starts)."""
    if norm == "linf":
        noise = torch.rand(images.shape, generator=generator) * 2 - 1
        noise = noise / noise.flatten(1).abs().max(1).values.clamp_min(1e-12).view(-1, 1, 1, 1)
    else:
        noise = l2_normalise(torch.randn(images.shape, generator=generator))
    return project(images + eps * noise.to(images), images, eps, norm)


def _apgd_once(model, images, labels, eps, steps, norm, loss, eot, rho, generator):
    """One APGD run: (per image the adversarial point, whether it fools the model)."""
    marks = set(checkpoints(steps))
    x = _start(images, eps, norm, generator)
    gradient, value, logits = loss_gradient(model, x, labels, eot, loss)
    fooled = logits.argmax(1) != labels
    found = torch.where(per_image(fooled), x, images)
    best, best_value, best_gradient = x.clone(), value.clone(), gradient.clone()
    step = torch.full((len(images),), 2.0 * eps, device=images.device)
    previous, previous_value = x.clone(), value.clone()
    rises = torch.zeros(len(images), device=images.device)
    since, reduced_before, best_at_check = 0, torch.ones_like(fooled), best_value.clone()
    for iteration in range(steps):
        with torch.no_grad():
            direction = gradient.sign() if norm == "linf" else l2_normalise(gradient)
            target = project(x + per_image(step) * direction, images, eps, norm)
            momentum = 1.0 if iteration == 0 else 0.75
            moved = project(x + momentum * (target - x) + (1 - momentum) * (x - previous), images, eps, norm)
            previous, x = x, moved
        gradient, value, logits = loss_gradient(model, x, labels, eot, loss)
        newly = (logits.argmax(1) != labels) & ~fooled
        found = torch.where(per_image(newly), x, found)
        fooled |= newly
        rises += (value > previous_value).float()
        previous_value = value
        improved = value > best_value
        best = torch.where(per_image(improved), x, best)
        best_gradient = torch.where(per_image(improved), gradient, best_gradient)
        best_value = torch.where(improved, value, best_value)
        since += 1
        if iteration + 1 in marks:
            oscillating = rises < rho * since
            stalled = ~reduced_before & (best_at_check >= best_value)
            halve = oscillating | stalled
            step = torch.where(halve, step / 2, step)
            x = torch.where(per_image(halve), best, x)  # start again from the best point, without momentum
            previous = torch.where(per_image(halve), best, previous)
            gradient = torch.where(per_image(halve), best_gradient, gradient)
            reduced_before, best_at_check, since = halve, best_value.clone(), 0
            rises.zero_()
    return torch.where(per_image(fooled), found, best), fooled


def _check_apgd(images, labels, eps, steps, norm, restarts, rho, classes_needed, classes):
    check_batch(images, labels, eps, norm)
    if steps < 1 or restarts < 1:
        raise InputError(f"APGD needs steps >= 1 and restarts >= 1, got {steps} and {restarts}")
    if not 0 < rho < 1:
        raise InputError(f"--rho must be in (0, 1), got {rho}")
    if classes < classes_needed:
        raise InputError(f"this loss needs a classifier of at least {classes_needed} classes; it has {classes}")


def _until_fooled(model, images, labels, clean, losses, eps, steps, norm, eot, rho, seed) -> torch.Tensor:
    """One APGD run per entry of ``losses`` (each a function of the indices left, giving the loss), each on the
    images no earlier run fooled: per image the fooling point, else the last run's strongest."""
    generator = torch.Generator().manual_seed(seed)
    result, fooled = images.clone(), clean.argmax(1) != labels
    for loss_for in losses:
        left = (~fooled).nonzero().squeeze(1)
        if not len(left):
            break
        made, success = _apgd_once(
            model, images[left], labels[left], eps, steps, norm, loss_for(left), eot, rho, generator
        )
        result[left] = made
        fooled[left] = success
    return result


def _predictions(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(images).float()


def apgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.1,
    steps: int = 100,
    loss: str = "ce",
    restarts: int = 1,
    eot: int = 1,
    rho: float = 0.75,
    seed: int = 0,
    norm: str = "linf",
) -> torch.Tensor:
    """Untargeted APGD with the ``ce`` or ``dlr`` loss; each restart attacks the images not yet fooled."""
    if loss not in ("ce", "dlr"):
        raise InputError(f"unknown APGD loss {loss!r}; valid: ce, dlr")
    images = images.detach()
    clean = _predictions(model, images)
    _check_apgd(images, labels, eps, steps, norm, restarts, rho, 3 if loss == "dlr" else 2, clean.shape[1])
    function = cross_entropy if loss == "ce" else dlr
    runs = [lambda left: function] * restarts
    return _until_fooled(model, images, labels, clean, runs, eps, steps, norm, eot, rho, seed)


def apgd_targeted(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.1,
    steps: int = 100,
    targets: int = 9,
    eot: int = 1,
    rho: float = 0.75,
    seed: int = 0,
    norm: str = "linf",
) -> torch.Tensor:
    """APGD-T: the targeted DLR loss towards the 2nd, 3rd, ... most likely classes at the clean image, one run per
    target on the images not yet fooled (AutoAttack's 9 by default; each run only on the images still correct)."""
    images = images.detach()
    clean = _predictions(model, images)
    _check_apgd(images, labels, eps, steps, norm, 1, rho, 4, clean.shape[1])
    if not 1 <= targets <= clean.shape[1] - 1:
        raise InputError(f"--targets must be in 1..{clean.shape[1] - 1} (the wrong classes), got {targets}")
    ranked = clean.argsort(dim=1, descending=True)
    runs = [lambda left, rank=rank: targeted_dlr(ranked[left, rank]) for rank in range(1, targets + 1)]
    return _until_fooled(model, images, labels, clean, runs, eps, steps, norm, eot, rho, seed)


def square_fraction(p_init: float, query: int, queries: int) -> float:
    """The share of pixels the square covers at ``query`` of ``queries``: ``p_init`` halved at 10, 50, 200, 500,
    1000, 2000, 4000, 6000 and 8000 queries of a 10,000-query budget (rescaled to this one)."""
    rescaled = int(query / queries * 10_000)
    halvings = sum(rescaled > mark for mark in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000))
    return p_init / 2**halvings


def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """z_y - max_{i != y} z_i: negative once the image is misclassified."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    return true - logits.scatter(1, labels[:, None], -math.inf).max(1).values


def square(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.1,
    queries: int = 1000,
    p_init: float = 0.8,
    seed: int = 0,
) -> torch.Tensor:
    """Square attack, L-inf: random search with only the model's outputs (no gradients, so gradient masking cannot
    stop it). Starts from vertical stripes of +-eps; each query sets one random square window (a side shrinking
    with ``square_fraction``) to +-eps per channel and keeps the change if the margin falls."""
    check_batch(images, labels, eps)
    if queries < 1 or not 0 < p_init <= 1:
        raise InputError(f"Square needs queries >= 1 and p_init in (0, 1], got {queries} and {p_init}")
    images = images.detach()
    count, channels, height, width = images.shape
    generator = torch.Generator().manual_seed(seed)

    def signs(*shape: int) -> torch.Tensor:
        return (torch.randint(0, 2, shape, generator=generator) * 2 - 1).to(images)

    best = (images + eps * signs(count, channels, 1, width)).clamp(0, 1)
    best_margin = margin(_predictions(model, best), labels)
    rows, columns = torch.arange(height, device=images.device), torch.arange(width, device=images.device)
    for query in range(1, queries):
        left = (best_margin > 0).nonzero().squeeze(1)
        if not len(left):
            break
        side = int(round(math.sqrt(square_fraction(p_init, query, queries) * height * width)))
        side = min(max(side, 1), height - 1, width - 1) if min(height, width) > 1 else 1
        top = torch.randint(0, height - side + 1, (len(left),), generator=generator).to(images.device)
        leftmost = torch.randint(0, width - side + 1, (len(left),), generator=generator).to(images.device)
        inside = ((rows >= top[:, None]) & (rows < top[:, None] + side))[:, None, :, None] & (
            (columns >= leftmost[:, None]) & (columns < leftmost[:, None] + side)
        )[:, None, None, :]
        origin, current = images[left], best[left]
        candidate = torch.where(inside, (origin + eps * signs(len(left), channels, 1, 1)).clamp(0, 1), current)
        for _ in range(10):  # redraw the signs of a window the change leaves as it was (a wasted query)
            same = ((candidate - current).abs() * inside).flatten(1).amax(1) < 1e-7
            if not same.any():
                break
            redrawn = (origin + eps * signs(len(left), channels, 1, 1)).clamp(0, 1)
            candidate = torch.where(per_image(same) & inside, redrawn, candidate)
        value = margin(_predictions(model, candidate), labels[left])
        better = value < best_margin[left]
        best[left] = torch.where(per_image(better), candidate, current)
        best_margin[left] = torch.where(better, value, best_margin[left])
    return best
