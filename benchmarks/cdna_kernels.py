"""Moving frames by per-sample kernels (svg's `output=cdna`): separable band matrices against PyTorch's own ways.

    python benchmarks/cdna_kernels.py [--kernels 3] [--repeats 5]

One svg training step at batch 32 moves 448 frames of 64x64 (32 clips x 14 predicted frames), each by its own
kernels. Timed, forward and backward, on the same frames and the same taps: the model's separable 11-tap kernels
as two banded matrix products (`band_matrix`), against the full 11x11 kernels they equal (their outer product) run
by `F.conv2d` with one group per frame and by FFT (`torch.fft.rfft2`). Prints milliseconds, the ratio of each peer
to ours, and the largest difference between the three outputs (they compute the same thing).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer

from imsynth.models.networks import band_matrix
from imsynth.models.video import CDNA_SIZE

FRAMES, SIDE = 448, 64
CENTRE = CDNA_SIZE // 2


def separable(frames, taps):  # taps (N, K, 2, S): across, down
    across, down = band_matrix(taps[:, :, 0], SIDE), band_matrix(taps[:, :, 1], SIDE)
    return (down[:, None] @ (frames[:, :, None] @ across.mT[:, None]))[:, 0]


def full_kernels(taps):
    return taps[:, :, 1, :, None] * taps[:, :, 0, None, :]  # (N, K, S, S), rows down, columns across


def grouped(frames, taps):
    kernels = full_kernels(taps)
    count, k = kernels.shape[:2]
    out = F.conv2d(frames.reshape(1, count, SIDE, SIDE), kernels.reshape(count * k, 1, CDNA_SIZE, CDNA_SIZE),
                   padding=CENTRE, groups=count)  # fmt: skip
    return out.view(count, k, SIDE, SIDE)


def by_fft(frames, taps):
    size = SIDE + CDNA_SIZE - 1  # linear, not circular, convolution
    spectrum = torch.fft.rfft2(frames, s=(size, size)) * torch.fft.rfft2(
        full_kernels(taps).flip(-1, -2), s=(size, size)
    )
    return torch.fft.irfft2(spectrum, s=(size, size))[..., CENTRE : CENTRE + SIDE, CENTRE : CENTRE + SIDE]


def timed(method, frames, logits, repeats) -> tuple[float, torch.Tensor]:
    """Milliseconds a forward and backward, after torch's Timer's warm-up, and the output."""

    def once():
        logits.grad = None
        out = method(frames, logits.softmax(-1))
        out.sum().backward()
        return out

    timer = Timer("once()", globals={"once": once}, num_threads=torch.get_num_threads())
    return timer.timeit(repeats).mean * 1000, once().detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    frames = torch.rand(FRAMES, 1, SIDE, SIDE)
    logits = torch.randn(FRAMES, args.kernels, 2, CDNA_SIZE, requires_grad=True)
    ours, reference = timed(separable, frames, logits, args.repeats)
    print(f"{torch.get_num_threads()} threads, {FRAMES} frames of {SIDE}x{SIDE}, {args.kernels} kernels of {CDNA_SIZE}")
    print(f"separable band matrices (ours)  {ours:7.1f} ms")
    for name, method in (("F.conv2d, one group a frame", grouped), ("FFT (torch.fft)", by_fft)):
        ms, out = timed(method, frames, logits, args.repeats)
        gap = float((out - reference).abs().max())
        print(f"{name:32s}{ms:7.1f} ms  {ms / ours:5.2f}x ours  largest difference {gap:.1e}")


if __name__ == "__main__":
    main()
