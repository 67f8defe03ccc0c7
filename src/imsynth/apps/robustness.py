"""Adversarial robustness of a classifier with and without purification defences, measured so a reviewer would
accept the number.

A defence (the ``DEFENCES`` table) is a purifier put in front of the classifier: images (B, C, H, W) in [0, 1] ->
images. Each declares whether it is differentiable (then adaptive attacks backpropagate through it exactly) and
whether it is random (then adaptive attacks average gradients over ``eot`` draws).

``evaluate_robustness`` reports, on ``images`` test images:
- ``clean_accuracy``: the classifier alone; ``defended_clean_accuracy``: behind the defence (what it costs);
- ``undefended_robust_accuracy``: the classifier alone under the attack;
- ``unaware_robust_accuracy``: the attack made against the classifier alone, then purified (how these defences
  are often reported - an attack that ignores them);
- ``adaptive_robust_accuracy``: the attack made against classifier(defence(x)) - exact gradients through a
  differentiable defence, BPDA (identity backward) through the others, EOT over a random one (Athalye et al.
  2018);
- ``robust_accuracy``: images that survive both attacks (the per-image worst case) - the number to quote; an
  adaptive BPDA attack is not always the stronger of the two (through JPEG the unaware one often wins).
- ``after_each_attack``: accuracy after each attack run (for the default ensemble ``auto``: after APGD-CE, APGD-T,
  Square and PGD, each run on the images the earlier ones left correct), undefended and adaptive.
Plus the attack's budget (eps, steps, targets, queries, EOT samples, gradient mode), its cost per image, and the
defence's latency per 100 images. Accuracies on a random defence are averaged over its randomness once per image
(one draw); ``--gradient`` chooses exact gradients (where the defence has them: the VAEs, the diffusion chain, the
unrolled GAN inversion) or BPDA.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..classical.corrupt import jpeg
from ..classical.denoise import median
from ..data import load_dataset
from ..errors import InputError
from ..models import GenerativeModel, load_run
from ..runtime.attacks import ATTACKS, Attacked, Purified, ZeroOne, run_attack
from ..runtime.classifier import load_feature_net
from ..tables import Table, method
from .purify import PURIFIERS, Purification

Purify = Callable[[torch.Tensor], torch.Tensor]


def _per_image(images: torch.Tensor, function: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """A classical function of HxWxC float [0, 1] images applied to a batch (B, C, H, W) in [0, 1]."""
    pixels = images.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    out = np.stack([function(image) for image in pixels])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(images)


def no_defence() -> Purification:
    return Purification(lambda images: images, differentiable=True, random=False)


def jpeg_defence(*, quality: int = 75) -> Purification:
    if not 1 <= quality <= 100:
        raise InputError(f"--quality must be in 1..100, got {quality}")
    # the JPEG corruption's round trip (8 bits, OpenCV's encoder)
    return Purification(lambda images: _per_image(images, lambda x: jpeg(x, None, quality=quality)), False, False)


def median_defence(*, size: int = 3) -> Purification:
    if size not in (3, 5):
        raise InputError(f"--size must be 3 or 5 for the median defence, got {size}")
    return Purification(lambda images: _per_image(images, lambda x: median(x, size=size)), False, False)


def bit_depth_defence(*, bits: int = 3) -> Purification:
    if not 1 <= bits <= 8:
        raise InputError(f"--bits must be in 1..8, got {bits}")
    levels = 2**bits - 1
    return Purification(lambda images: torch.round(images * levels) / levels, differentiable=False, random=False)


DEFENCES: Table = Table("defence")
DEFENCES.add(method("none", no_defence, "no defence (the classifier alone)"))
DEFENCES.add(method("jpeg", jpeg_defence, "JPEG re-encoding", options={"quality": "JPEG quality"}))
DEFENCES.add(method("median", median_defence, "median filter", options={"size": "window side (3 or 5)"}))
DEFENCES.add(method("bit-depth", bit_depth_defence, "bit-depth reduction", options={"bits": "bits kept"}))
# the model defences are the purifiers of imsynth.apps.purify under their attack-literature names, with their
# options; a GAN projection is cheaper here (100 inversion steps, not restoration's 200): it runs once per attack
# step under BPDA
for _name, _purifier, _defaults, _description in (
    ("vae", "encode-decode", {}, "VAE encode-decode (--model: vae, dvae or defense-vae run)"),
    ("gan", "projection", {"steps": 100}, "Defense-GAN: project onto a GAN run's range by inversion (--model)"),
    ("diffusion", "diffusion", {}, "DiffPure: diffuse to t* and denoise with a diffusion run (--model)"),
):
    _entry = PURIFIERS.get(_purifier)
    DEFENCES.add(
        method(
            _name,
            functools.partial(_entry.function, **_defaults),
            _description,
            options={option.name: option.help for option in _entry.options},
            needs=_entry.needs,
        )
    )


def make_defence(name: str, *, model: GenerativeModel | None = None, **options) -> Purification:
    entry = DEFENCES.get(name)
    DEFENCES.check_options(name, options)
    if "model" in entry.needs:
        if model is None:
            raise InputError(f"defence {name!r} needs a trained run: give --model RUN")
        return entry(model=model, **options)
    if model is not None:
        raise InputError(f"defence {name!r} uses no model; drop --model")
    return entry(**options)


def load_classifier(name: str, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """A shipped classifier by dataset name, or a .safetensors file, as a model of [0, 1] images."""
    net, info = load_feature_net(name, name if name.endswith(".safetensors") else None)
    return ZeroOne(net).to(device).eval().requires_grad_(False), info


def _correct(classifier, images, labels, batch_size: int, purify: Purify | None = None) -> torch.Tensor:
    """Per image: classified correctly (behind ``purify`` when given)."""
    chunks = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            if purify is not None:
                batch = purify(batch)
            chunks.append(classifier(batch).argmax(1) == labels[start : start + batch_size])
    return torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.bool)


def _accuracy(classifier, images, labels, batch_size: int, purify: Purify | None = None) -> float:
    return float(_correct(classifier, images, labels, batch_size, purify).float().mean()) if len(images) else 0.0


def _attacked(model, images, labels, attack_name, batch_size, options, label) -> Attacked:
    """``run_attack`` in batches, its record of survivors joined across them."""
    parts = []
    bar = tqdm(total=len(images), desc=label, unit="image", leave=False, disable=not sys.stderr.isatty())
    for start in range(0, len(images), batch_size):
        batch = slice(start, start + batch_size)
        parts.append(run_attack(attack_name, model, images[batch], labels[batch], **options))
        bar.update(len(parts[-1].adversarial))
    bar.close()
    return Attacked(
        torch.cat([part.adversarial for part in parts]),
        {key: torch.cat([part.survivors[key] for part in parts]) for key in parts[0].survivors},
        parts[0].skipped,
    )


def _after_each(attacked: Attacked) -> dict[str, float]:
    """Accuracy after each attack run (``clean`` first): which member of an ensemble did the work."""
    return {name: round(float(held.float().mean()), 4) for name, held in attacked.survivors.items()}


GRADIENTS = ("auto", "exact", "bpda")


def _gradient_mode(requested: str, defence: str, guard: Purification) -> str:
    """``exact`` or ``bpda`` for ``requested`` (checked against GRADIENTS already)."""
    if requested == "exact" and not guard.differentiable:
        raise InputError(
            f"defence {defence!r} has no gradients to follow exactly; use --gradient bpda (the identity backward) or "
            "auto"
        )
    if requested == "auto":
        return "exact" if guard.differentiable else "bpda"
    return requested


def evaluate_robustness(
    *,
    classifier: str = "fashion-mnist",
    defence: str = "none",
    attack_name: str = "auto",
    gradient: str = "auto",
    run=None,
    data: str | None = None,
    images: int = 500,
    adaptive: bool = True,
    unaware: bool = True,
    batch_size: int = 250,
    seed: int = 0,
    device: str = "auto",
    defence_options: dict | None = None,
    **attack_options,
) -> dict:
    """Clean, unaware and adaptive robust accuracy of ``classifier`` behind ``defence`` under ``attack_name``
    (``auto``: the ensemble, reported member by member)."""
    ATTACKS.check_options(attack_name, attack_options)
    if images < 1:
        raise InputError(f"--images must be >= 1, got {images}")
    if gradient not in GRADIENTS:
        raise InputError(f"--gradient must be one of {', '.join(GRADIENTS)}, got {gradient!r}")
    model = load_run(run, device=device)[0] if run is not None else None
    target = next(model.parameters()).device if model is not None else torch.device("cpu")
    net, info = load_classifier(classifier, target)
    dataset = load_dataset(data or info["dataset"])
    if dataset.test_labels is None or not dataset.num_classes:
        raise InputError(f"{dataset.name}: robustness needs a labelled test split")
    classes = net.net.num_classes
    if classes != dataset.num_classes or net.net.channels != dataset.channels:
        raise InputError(
            f"classifier {classifier!r} has {classes} outputs for {net.net.channels}-channel images; "
            f"{dataset.name} has {dataset.num_classes} classes and {dataset.channels} channels"
        )
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(dataset.test_images), generator=generator)[:images]
    x = (dataset.test_images[chosen].float() / 255).to(target)
    y = dataset.test_labels[chosen].to(target)
    guard = make_defence(defence, model=model, **(defence_options or {}))
    mode = _gradient_mode(gradient, defence, guard)
    torch.manual_seed(seed)  # the randomness of random defences

    started = time.perf_counter()
    with torch.no_grad():
        purified = torch.cat([guard.purify(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    latency = (time.perf_counter() - started) / len(x) * 100
    defended_clean = _accuracy(net, purified, y, batch_size)
    result = {
        "classifier": info["name"],
        "classifier_path": info["path"],
        "data": dataset.name,
        "defence": defence,
        "defence_options": defence_options or {},
        "model": None if run is None else str(run),
        "attack": attack_name,
        "attack_options": attack_options,
        "images": len(x),
        "clean_accuracy": _accuracy(net, x, y, batch_size),
        "defended_clean_accuracy": defended_clean,
        "defence_seconds_per_100_images": round(latency, 3),
    }
    plain = _attacked(net, x, y, attack_name, batch_size, attack_options, "attack (classifier)")
    result["undefended_robust_accuracy"] = _accuracy(net, plain.adversarial, y, batch_size)
    result["after_each_attack"] = {"undefended": _after_each(plain)}
    if plain.skipped:
        result["skipped"] = plain.skipped
    survived = None
    if defence != "none" and unaware:
        survived = _correct(net, plain.adversarial, y, batch_size, guard.purify)
        result["unaware_robust_accuracy"] = float(survived.float().mean())
    if defence != "none" and adaptive:
        options = dict(attack_options)
        if guard.random and ATTACKS.get(attack_name).option("eot") is not None:
            options.setdefault("eot", 4)
        defended = Purified(net, guard.purify, gradient=mode)
        attack_started = time.perf_counter()
        adaptive_run = _attacked(defended, x, y, attack_name, batch_size, options, f"adaptive ({mode})")
        held = list(adaptive_run.survivors.values())[-1]
        result["adaptive_robust_accuracy"] = float(held.float().mean())
        result["adaptive_attack"] = {
            "gradient": mode,
            **options,
            "seconds_per_image": round((time.perf_counter() - attack_started) / len(x), 3),
        }
        result["after_each_attack"]["adaptive"] = _after_each(adaptive_run)
        survived = held if survived is None else survived & held
    if survived is not None:
        # an image counts as robust only if it survives every attack run (the number to quote)
        result["robust_accuracy"] = float(survived.float().mean())
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
