"""Adversarial attacks on any differentiable classifier, and the wrappers that make purifiers attackable.

Every attack takes ``model`` (an ``nn.Module`` mapping images (B, C, H, W) in [0, 1] to logits), ``images`` in
[0, 1] and integer ``labels``, and returns adversarial images in [0, 1] (the input's shape, detached). Wrap a
network that takes [-1, 1] in ``ZeroOne``. ``eps`` is on the [0, 1] scale.

- ``fgsm`` (Goodfellow et al. 2015): one signed-gradient step of size eps.
- ``pgd`` / ``pgd-l2`` (Madry et al. 2018): ``steps`` steps of size ``alpha`` (default 2.5 eps / steps), projected
  on the L-inf / L2 ball and on [0, 1]; random start in the ball; ``restarts`` runs keep, per image, a
  misclassified result if any (else the highest loss).
- ``cw-l2`` (Carlini & Wagner 2017): Adam in tanh space on ||delta||^2 + c max(Z_y - max_{i!=y} Z_i, -kappa),
  with a binary search over c per image (``search_steps``); the smallest successful perturbation is kept, the
  clean image where none was found; each search step stops early once the objective stops falling (every
  steps/10 steps, C&W's ``abort_early``, as torchattacks does). The search is what a fixed c lacks (torchattacks issues #5/#171: a c too
  small succeeds on ~0% of images).
- ``apgd-ce`` / ``apgd-dlr`` / ``apgd-t`` / ``square``: AutoAttack's attacks (``imsynth.runtime.autoattack``).
- ``auto``: the ensemble - APGD-CE, APGD-T, Square, then PGD, each on the images the earlier ones left correctly
  classified (Croce & Hein 2020's protocol); ``run_attack`` returns its record, member by member.

Adaptive attacks (Athalye, Carlini & Wagner 2018): ``Purified(classifier, purifier, gradient="bpda")`` is
classifier(purifier(x)) whose backward pass treats the purifier as the identity (BPDA) - for purifiers that are
not differentiable or whose gradients are useless (JPEG, median, an inner optimisation, a long sampler);
``gradient="exact"`` backpropagates through a differentiable purifier. ``eot`` > 1 averages the gradient over that
many draws of a random purifier (Expectation over Transformation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..tables import Table, method
from .autoattack import apgd, apgd_targeted, square
from .perturbation import check_batch, l2_normalise, loss_gradient, project


class ZeroOne(nn.Module):
    """A network on [-1, 1] images as a classifier of [0, 1] images."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images * 2 - 1)


class Purified(nn.Module):
    """classifier(purifier(x)) with the purifier's gradient ``"bpda"`` (identity) or ``"exact"``."""

    def __init__(self, classifier: nn.Module, purifier: Callable[[torch.Tensor], torch.Tensor], *, gradient="bpda"):
        super().__init__()
        if gradient not in ("bpda", "exact"):
            raise InputError(f"unknown purifier gradient {gradient!r}; valid: bpda, exact")
        self.classifier, self.purifier, self.gradient = classifier, purifier, gradient

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.gradient == "exact":
            return self.classifier(self.purifier(images))
        with torch.no_grad():
            purified = self.purifier(images.detach())
        # straight-through: the value of purifier(x), the gradient of x
        return self.classifier(images + (purified - images).detach())


def _gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eot: int) -> torch.Tensor:
    """The gradient of the summed cross-entropy at ``images``, averaged over ``eot`` forward passes."""
    return loss_gradient(model, images, labels, eot)[0]


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, eps: float = 0.1, eot: int = 1):
    check_batch(images, labels, eps)
    return (images + eps * _gradient(model, images, labels, eot).sign()).clamp(0, 1).detach()


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.1,
    steps: int = 40,
    alpha: float | None = None,
    random_start: bool = True,
    restarts: int = 1,
    eot: int = 1,
    seed: int = 0,
    norm: str = "linf",
) -> torch.Tensor:
    check_batch(images, labels, eps, norm)
    if steps < 1 or restarts < 1:
        raise InputError(f"PGD needs steps >= 1 and restarts >= 1, got {steps} and {restarts}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    generator = torch.Generator().manual_seed(seed)
    images = images.detach()
    best = images.clone()
    best_fooled = torch.zeros(len(images), dtype=torch.bool, device=images.device)
    best_loss = torch.full((len(images),), -math.inf, device=images.device)
    for _ in range(restarts):
        adversarial = images.clone()
        if random_start and eps > 0:
            if norm == "linf":
                start = (torch.rand(images.shape, generator=generator) * 2 - 1) * eps
            else:  # uniform in the L2 ball: a random direction, radius eps * u^(1/d)
                direction = l2_normalise(torch.randn(images.shape, generator=generator))
                radius = eps * torch.rand(len(images), generator=generator) ** (1 / images[0].numel())
                start = direction * radius.view(-1, 1, 1, 1)
            adversarial = project(images + start.to(images), images, eps, norm)
        for _ in range(steps):
            gradient = _gradient(model, adversarial, labels, eot)
            step = gradient.sign() if norm == "linf" else l2_normalise(gradient)
            adversarial = project(adversarial + alpha * step, images, eps, norm)
        with torch.no_grad():
            logits = model(adversarial).float()
            loss = F.cross_entropy(logits, labels, reduction="none")
            fooled = logits.argmax(1) != labels
            better = (fooled & ~best_fooled) | ((fooled == best_fooled) & (loss > best_loss))
            best[better] = adversarial[better]
            best_fooled |= fooled
            best_loss = torch.where(better, loss, best_loss)
    return best


def cw_l2(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    c: float = 1.0,
    kappa: float = 0.0,
    steps: int = 100,
    lr: float = 0.01,
    search_steps: int = 5,
    abort_early: bool = True,
) -> torch.Tensor:
    check_batch(images, labels)
    if steps < 1 or search_steps < 1 or c <= 0 or kappa < 0:
        raise InputError("CW-L2 needs steps >= 1, search_steps >= 1, c > 0 and kappa >= 0")
    images = images.detach()
    count = len(images)
    start = torch.atanh((images * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
    const = torch.full((count,), float(c), device=images.device)
    lower = torch.zeros(count, device=images.device)
    upper = torch.full((count,), math.inf, device=images.device)
    best = images.clone()
    best_l2 = torch.full((count,), math.inf, device=images.device)
    one_hot = F.one_hot(labels, num_classes=model(images[:1]).shape[1]).bool()
    for _ in range(search_steps):
        w = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([w], lr=lr)
        succeeded = torch.zeros(count, dtype=torch.bool, device=images.device)
        previous = math.inf
        for step in range(steps):
            adversarial = (torch.tanh(w) + 1) / 2
            l2 = (adversarial - images).pow(2).flatten(1).sum(1)
            logits = model(adversarial).float()
            real = logits[one_hot]
            other = logits.masked_fill(one_hot, -math.inf).max(1).values
            loss = (l2 + const * (real - other).clamp(min=-kappa)).sum()
            (w.grad,) = torch.autograd.grad(loss, w)  # not .backward(): the classifier's weights keep no gradient
            optimizer.step()
            if abort_early and step % max(steps // 10, 1) == 0:
                # Carlini & Wagner's rule: stop this search step once the objective stops falling
                if loss.item() > previous * 0.9999:
                    break
                previous = loss.item()
            with torch.no_grad():
                success = (other - real) > kappa if kappa > 0 else logits.argmax(1) != labels
                improved = success & (l2 < best_l2)
                best[improved] = adversarial.detach()[improved]
                best_l2 = torch.where(improved, l2.detach(), best_l2)
                succeeded |= success
        # binary search on c: smaller where it worked, larger (x10 until bracketed) where it did not
        upper = torch.where(succeeded, torch.minimum(upper, const), upper)
        lower = torch.where(succeeded, lower, torch.maximum(lower, const))
        const = torch.where(torch.isfinite(upper), (lower + upper) / 2, const * 10)
    return best.clamp(0, 1)


# the ensemble, in AutoAttack's order: the cheap strong gradient attack first, then the scale-free targeted one,
# then the gradient-free one (which gradient masking cannot stop), then the PGD with BPDA/EOT this toolkit had first
MEMBERS = ("apgd-ce", "apgd-t", "square", "pgd")


@dataclass
class Attacked:
    """Adversarial images and, per attack run (in order, after ``clean``), which images are still classified
    correctly: an image that one attack fooled is not attacked again."""

    adversarial: torch.Tensor
    survivors: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(images).float().argmax(1) == labels


def ensemble(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.1,
    steps: int = 100,
    targets: int = 9,
    queries: int = 1000,
    eot: int = 1,
    seed: int = 0,
) -> Attacked:
    """AutoAttack's protocol, L-inf: each of ``MEMBERS`` in turn on the images every earlier one left correctly
    classified; the robust accuracy is the share correct after the last (the per-image worst case)."""
    check_batch(images, labels, eps)
    images = images.detach()
    with torch.no_grad():  # one pass for both: through a purifier every pass is a whole purification
        clean = model(images).float()
    correct, classes = clean.argmax(1) == labels, clean.shape[1]
    result = Attacked(images.clone(), {"clean": correct.clone()})
    runs = {
        "apgd-ce": lambda x, y: apgd(model, x, y, eps=eps, steps=steps, loss="ce", eot=eot, seed=seed),
        "apgd-t": lambda x, y: apgd_targeted(
            model, x, y, eps=eps, steps=steps, targets=min(targets, classes - 1), eot=eot, seed=seed
        ),
        "square": lambda x, y: square(model, x, y, eps=eps, queries=queries, seed=seed),
        "pgd": lambda x, y: pgd(model, x, y, eps=eps, steps=steps, eot=eot, seed=seed),
    }
    for name in MEMBERS:
        left = correct.nonzero().squeeze(1)
        if name == "apgd-t" and classes < 4:
            result.skipped[name] = f"the targeted DLR loss needs 4 classes or more; the classifier has {classes}"
        elif len(left):
            made = runs[name](images[left], labels[left])
            result.adversarial[left] = made
            correct[left] = _correct(model, made, labels[left])
        result.survivors[name] = correct.clone()
    return result


EPS = "perturbation budget (0-1 scale; L-inf for fgsm/pgd, L2 for pgd-l2)"
EOT = "gradient samples averaged per step (EOT, for random defences)"
ATTACKS: Table = Table("attack")
ATTACKS.add(
    method(
        "auto",
        ensemble,
        "AutoAttack-style ensemble, L-inf: APGD-CE, APGD-T (DLR), Square, then PGD, each on the images still "
        "correct; the per-image worst case",
        options={
            "eps": "L-inf perturbation budget (0-1 scale)",
            "steps": "iterations of each gradient member (APGD-CE, each APGD-T target, PGD)",
            "targets": "target classes of APGD-T, the most likely wrong ones first (AutoAttack uses 9; fewer for slow defences)",
            "queries": "queries of the Square attack",
            "eot": EOT,
            "seed": "random seed",
        },
        info={"members": MEMBERS},
    )
)
ATTACKS.add(method("fgsm", fgsm, "FGSM: one signed-gradient step", options={"eps": EPS, "eot": EOT}))
_PGD = {
    "eps": EPS,
    "steps": "iterations",
    "alpha": "step size (default 2.5 eps / steps)",
    "random_start": "start at a random point of the ball",
    "restarts": "random restarts, the strongest kept per image",
    "eot": EOT,
    "seed": "random seed",
}
ATTACKS.add(method("pgd", pgd, "PGD, L-inf ball (Madry et al.)", options=_PGD))
ATTACKS.add(method("pgd-l2", functools.partial(pgd, norm="l2", eps=1.5), "PGD, L2 ball", options=_PGD))
_APGD = {
    "eps": "L-inf perturbation budget (0-1 scale)",
    "steps": "iterations (the step size adapts: no alpha to choose)",
    "eot": EOT,
    "rho": "share of rising steps below which the step halves at a checkpoint",
    "seed": "random seed",
}
for _loss, _description in (
    ("ce", "APGD, cross-entropy (Croce & Hein 2020), L-inf"),
    ("dlr", "APGD, difference-of-logits-ratio loss (scale-free), L-inf"),
):
    ATTACKS.add(
        method(
            f"apgd-{_loss}",
            functools.partial(apgd, loss=_loss),
            _description,
            options={**_APGD, "restarts": "random restarts, each on the images not yet fooled"},
        )
    )
ATTACKS.add(
    method(
        "apgd-t",
        apgd_targeted,
        "APGD-T: targeted DLR towards each of the most likely wrong classes in turn, L-inf",
        options={**_APGD, "targets": "target classes, the most likely wrong ones first"},
    )
)
ATTACKS.add(
    method(
        "square",
        square,
        "Square attack: random search with the model's outputs only, no gradients (L-inf)",
        options={
            "eps": "L-inf perturbation budget (0-1 scale)",
            "queries": "model queries per image",
            "p_init": "share of the image the first squares cover",
            "seed": "random seed",
        },
    )
)
ATTACKS.add(
    method(
        "cw-l2",
        cw_l2,
        "Carlini-Wagner L2 with a binary search over c",
        options={
            "c": "initial trade-off constant",
            "kappa": "confidence margin",
            "steps": "Adam steps per search step",
            "lr": "Adam learning rate",
            "search_steps": "binary-search steps over c",
            "abort_early": "stop a search step when the objective stops falling (C&W's rule)",
        },
    )
)


def _run(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, options: dict):
    """The table's function in eval mode: images, or an ensemble's ``Attacked``."""
    entry = ATTACKS.get(name)
    ATTACKS.check_options(name, options)
    was_training = model.training
    model.eval()
    try:
        return entry, entry(model, images, labels, **options)
    finally:
        model.train(was_training)


def run_attack(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **options) -> Attacked:
    """``attack`` with its record: which images each attack run left correctly classified (for an ensemble, one
    entry per member)."""
    entry, made = _run(name, model, images, labels, options)
    if entry.info.get("members"):  # an ensemble keeps its own record
        return made
    return Attacked(made, {"clean": _correct(model, images, labels), name: _correct(model, made, labels)})


def attack(name: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **options) -> torch.Tensor:
    """Adversarial images by the attack ``name`` of ``ATTACKS`` (options checked against the table); no record,
    so no extra forward passes."""
    entry, made = _run(name, model, images, labels, options)
    return made.adversarial if entry.info.get("members") else made
