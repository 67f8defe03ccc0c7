"""Adversarial robustness on Fashion-MNIST: imsynth's attacks checked against torchattacks, then every defence
under attacks that ignore it and under adaptive ones.

    pip install --no-deps torchattacks      # it declares torchvision, which it does not need for these attacks
    python benchmarks/robustness.py [--images 500] [--dvae runs/dvae] [--defense-vae runs/defense-vae] \
        [--vae runs/vae] [--gan runs/dcgan] [--ddpm runs/ddpm] [--robust-classifier robust.safetensors] \
        [--slow-images 100] [--slow-steps 20] [--skip-check]

1. Agreement with torchattacks on the shipped classifier (same images, same settings): FGSM eps 0.1; PGD eps 0.1,
   alpha 0.01, 40 steps, random start; CW-L2 c = 1, kappa 0, 100 Adam steps at lr 0.01, no binary search
   (torchattacks has none: ``search_steps=1`` here). Success rate = share of images misclassified after the
   attack. Target: within 2 points.
2. Defences (``imsynth.apps.robustness``), L-inf eps = 0.1, PGD-40 (alpha 2.5 eps / steps): clean accuracy,
   accuracy behind the defence, robust accuracy under an attack that ignores the defence and under the adaptive
   attack (exact gradients through VAEs, BPDA through the others, EOT 4 over diffusion's randomness), and the
   defence's latency per 100 images. GAN and diffusion defences cost hundreds of network passes per attack step
   on 2 CPU cores, so they run on ``--slow-images`` images with ``--slow-steps`` PGD steps (stated in the table).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from imsynth.apps.robustness import evaluate_robustness
from imsynth.data import load_dataset
from imsynth.runtime.attacks import ZeroOne, attack
from imsynth.runtime.classifier import load_feature_net


def success_on(model, adversarial, labels) -> float:
    with torch.no_grad():
        return float((model(adversarial).argmax(1) != labels).float().mean())


def agreement(images: int) -> None:
    import torchattacks

    net, _ = load_feature_net("fashion-mnist")
    model = ZeroOne(net).eval()
    data = load_dataset("fashion-mnist")
    order = torch.randperm(len(data.test_images), generator=torch.Generator().manual_seed(0))[:images]
    x, y = data.test_images[order].float() / 255, data.test_labels[order]

    def success(adversarial):
        with torch.no_grad():
            return float((model(adversarial).argmax(1) != y).float().mean())

    settings = [
        ("FGSM eps 0.1", lambda: attack("fgsm", model, x, y, eps=0.1), lambda: torchattacks.FGSM(model, eps=0.1)(x, y)),
        (
            "PGD eps 0.1, 40 x 0.01",
            lambda: attack("pgd", model, x, y, eps=0.1, steps=40, alpha=0.01),
            lambda: torchattacks.PGD(model, eps=0.1, alpha=0.01, steps=40, random_start=True)(x, y),
        ),
        (
            "PGD eps 0.03, 10 x 0.0075 (unsaturated)",
            lambda: attack("pgd", model, x, y, eps=0.03, steps=10, alpha=0.0075),
            lambda: torchattacks.PGD(model, eps=0.03, alpha=0.0075, steps=10, random_start=True)(x, y),
        ),
        (
            "PGD-L2 eps 0.6, 10 x 0.15",
            lambda: attack("pgd-l2", model, x, y, eps=0.6, steps=10, alpha=0.15),
            lambda: torchattacks.PGDL2(model, eps=0.6, alpha=0.15, steps=10, random_start=True)(x, y),
        ),
        (
            "CW-L2 c 1, 100 x lr 0.01",
            lambda: attack("cw-l2", model, x, y, c=1.0, kappa=0.0, steps=100, lr=0.01, search_steps=1),
            lambda: torchattacks.CW(model, c=1.0, kappa=0.0, steps=100, lr=0.01)(x, y),
        ),
    ]
    print(f"attack agreement with torchattacks {torchattacks.__version__}, n={images}")
    print("| attack | imsynth success | torchattacks success | difference (points) | imsynth s | torchattacks s |")
    print("|---|---|---|---|---|---|")
    for name, ours, theirs in settings:
        started = time.perf_counter()
        ours_rate = success(ours())
        ours_time = time.perf_counter() - started
        started = time.perf_counter()
        theirs_rate = success(theirs())
        theirs_time = time.perf_counter() - started
        print(f"| {name} | {100 * ours_rate:.1f}% | {100 * theirs_rate:.1f}% | {100 * (ours_rate - theirs_rate):+.1f} | "
              f"{ours_time:.1f} | {theirs_time:.1f} |", flush=True)  # fmt: skip
    # torchattacks' CW starts from atanh(clamp(2x - 1, -1, 1)): pixels at exactly 0 or 1 start at -/+inf and can
    # never move (Fashion-MNIST's black background); imsynth clamps to 1 - 1e-6. On images kept inside (0, 1)
    # both attacks can move every pixel:
    inside = 0.01 + 0.98 * x
    ours_inside = success_on(model, attack("cw-l2", model, inside, y, c=1.0, steps=100, lr=0.01, search_steps=1), y)
    theirs_inside = success_on(model, torchattacks.CW(model, c=1.0, kappa=0.0, steps=100, lr=0.01)(inside, y), y)
    print(f"| CW-L2 as above, images scaled into [0.01, 0.99] | {100 * ours_inside:.1f}% | {100 * theirs_inside:.1f}% | "
          f"{100 * (ours_inside - theirs_inside):+.1f} | - | - |", flush=True)  # fmt: skip
    # torchattacks' margin takes max((1 - onehot) * logits) and max(onehot * logits): a logit below 0 reads as 0,
    # so the margin is wrong once logits go negative. With that margin computed as C&W define it:
    original = torchattacks.CW.f

    def margin(self, outputs, labels):
        one_hot = torch.nn.functional.one_hot(labels, outputs.shape[1]).bool()
        real = outputs[one_hot]
        other = outputs.masked_fill(one_hot, -float("inf")).max(1).values
        return torch.clamp(real - other, min=-self.kappa)

    torchattacks.CW.f = margin
    try:
        theirs_fixed = success_on(model, torchattacks.CW(model, c=1.0, kappa=0.0, steps=100, lr=0.01)(inside, y), y)
    finally:
        torchattacks.CW.f = original
    print(f"| CW-L2, [0.01, 0.99], torchattacks' margin corrected | {100 * ours_inside:.1f}% | "
          f"{100 * theirs_fixed:.1f}% | {100 * (ours_inside - theirs_fixed):+.1f} | - | - |", flush=True)  # fmt: skip
    # with the binary search the same CW budget finds far more
    rate = success(attack("cw-l2", model, x, y, c=1.0, steps=100, lr=0.01, search_steps=5))
    print(f"| CW-L2 as above + 5-step binary search over c (imsynth default) | {100 * rate:.1f}% | - | - | - | - |\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--slow-images", type=int, default=100)
    parser.add_argument("--slow-steps", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eps", type=float, default=0.1)
    for name in ("vae", "dvae", "defense-vae", "gan", "ddpm"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--ddpm-strength", type=float, default=0.15)
    parser.add_argument("--robust-classifier")
    parser.add_argument("--skip-check", action="store_true")
    parser.add_argument("--runs-only", action="store_true", help="only the rows of the given runs")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if not args.skip_check:
        agreement(args.images)

    rows = []
    if not args.runs_only:
        rows.append(("none", None, {}, args.images, args.steps, "fashion-mnist"))
        if args.robust_classifier:
            rows.append(("none", None, {}, args.images, args.steps, args.robust_classifier))
        rows += [
            ("jpeg", None, {"quality": 50}, args.images, args.steps, "fashion-mnist"),
            ("median", None, {"size": 3}, args.images, args.steps, "fashion-mnist"),
            ("bit-depth", None, {"bits": 2}, args.images, args.steps, "fashion-mnist"),
        ]
    for name in ("vae", "dvae", "defense-vae"):
        if getattr(args, name.replace("-", "_")):
            rows.append(("vae", getattr(args, name.replace("-", "_")), {}, args.images, args.steps, "fashion-mnist"))
    if args.gan:
        rows.append(("gan", args.gan, {"steps": 50, "restarts": 2}, args.slow_images, args.slow_steps, "fashion-mnist"))
    if args.ddpm:
        options = {"strength": args.ddpm_strength, "steps": 5}
        rows.append(("diffusion", args.ddpm, options, args.slow_images, args.slow_steps, "fashion-mnist"))

    print(f"defences, L-inf eps {args.eps}, PGD (alpha 2.5 eps/steps, random start)")
    print("| classifier | defence | run | images | PGD steps | clean | behind defence | undefended PGD | unaware PGD | "
          "adaptive PGD (gradient, EOT) | robust (both) | defence s / 100 images |")  # fmt: skip
    print("|---" * 12 + "|")
    results = []
    for defence, run, options, images, steps, classifier in rows:
        result = evaluate_robustness(
            classifier=classifier, defence=defence, run=run, images=images, defence_options=options,
            eps=args.eps, steps=steps,
        )  # fmt: skip
        results.append(result)
        adaptive = result.get("adaptive_robust_accuracy")
        how = result.get("adaptive_attack", {})
        adaptive_text = "-" if adaptive is None else f"{100 * adaptive:.1f}% ({how['gradient']}, {how.get('eot', 1)})"
        unaware = result.get("unaware_robust_accuracy")
        print(
            f"| {'PGD-trained' if classifier != 'fashion-mnist' else 'shipped'} | {defence} {options or ''} | "
            f"{run or '-'} | {images} | {steps} | {100 * result['clean_accuracy']:.1f}% | "
            f"{100 * result['defended_clean_accuracy']:.1f}% | {100 * result['undefended_robust_accuracy']:.1f}% | "
            f"{'-' if unaware is None else f'{100 * unaware:.1f}%'} | {adaptive_text} | "
            f"{100 * result.get('robust_accuracy', result['undefended_robust_accuracy']):.1f}% | "
            f"{result['defence_seconds_per_100_images']:.3f} |",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
