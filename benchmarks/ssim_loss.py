"""svg's SSIM term: imsynth's banded-matrix SSIM against torchmetrics' and grouped separable convolutions.

    python benchmarks/ssim_loss.py [--threads 2] [--repeats 5]

A training loss pays forward and backward at every step: timed on one svg step's frames (224 of 64x64, batch 16 x
14 predicted), with each peer's ratio to ours and the SSIM each gives for a 20-pixel square moved 3 px on black
(scikit-image's Gaussian SSIM is the reference ours matches; torchmetrics treats the borders differently).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer
from torchmetrics.functional.image import structural_similarity_index_measure

from imsynth.models.networks import ssim


def grouped(a, b, window=11, sigma=1.5):
    taps = torch.exp(-((torch.arange(window, dtype=a.dtype) - window // 2) ** 2) / (2 * sigma**2))
    taps = taps / taps.sum()
    maps = torch.cat([a, b, a * a, b * b, a * b], 1)
    k = maps.shape[1]
    maps = F.conv2d(maps, taps.view(1, 1, 1, -1).expand(k, 1, 1, window), groups=k)
    mean_a, mean_b, aa, bb, ab = F.conv2d(maps, taps.view(1, 1, -1, 1).expand(k, 1, window, 1), groups=k).split(1, 1)
    var_a, var_b, cov = aa - mean_a**2, bb - mean_b**2, ab - mean_a * mean_b
    c1, c2 = 0.01**2, 0.03**2
    index = (2 * mean_a * mean_b + c1) * (2 * cov + c2) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    return index.mean(dim=(1, 2, 3))


def torchmetrics_ssim(a, b):
    return structural_similarity_index_measure(a, b, data_range=1.0, kernel_size=11, reduction="none")


def timed(fn, a, b, repeats):
    """Milliseconds a forward and backward, after torch's Timer's warm-up, on the threads set in main."""
    globals_ = {"fn": fn, "guess": a.clone().requires_grad_(), "b": b}
    timer = Timer("fn(guess, b).mean().backward()", globals=globals_, num_threads=torch.get_num_threads())
    return timer.timeit(repeats).mean * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    a = torch.rand(224, 1, 64, 64)
    b = (a + 0.3 * torch.randn_like(a)).clamp(0, 1)
    square = torch.zeros(1, 1, 64, 64)
    square[..., 20:40, 20:40] = 1
    ours = timed(ssim, a, b, args.repeats)
    for name, fn in (
        ("imsynth (banded matrices)", ssim),
        ("grouped separable conv", grouped),
        ("torchmetrics", torchmetrics_ssim),
    ):
        ms = ours if fn is ssim else timed(fn, a, b, args.repeats)
        moved = float(fn(square, square.roll(3, -1))[0])
        print(f"{name:<28} {ms:8.1f} ms  {ms / ours:5.2f}x ours   square moved 3 px: SSIM {moved:.3f}")


if __name__ == "__main__":
    main()
