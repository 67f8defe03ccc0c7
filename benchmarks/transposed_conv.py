"""Stride-2 4x4 transposed convolutions (every decoder and generator here): oneDNN's own against two exact rewrites.

    python benchmarks/transposed_conv.py [--threads 2] [--repeats 5]

A transposed convolution with kernel 4, stride 2, padding 1 equals a 3x3 convolution with four times the output
channels followed by a pixel shuffle (the "sub-pixel" form: each of the four output phases reads a 2x2 corner of
the 3x3 window, the other taps zero), or four 2x2 convolutions, one per phase, interleaved. Either routes the
backward through oneDNN's forward-convolution kernels, which on this CPU run faster than its transposed ones for
some shapes. Timed forward and backward (input and weight gradients) in bf16 autocast and channels_last, at the
shapes of svg's decoder (batch 16 x 14 frames = 224) and the dcgan generator (batch 64). Prints milliseconds, each
rewrite's speed as a ratio to the native layer (above 1: the rewrite is faster) and the largest difference between
the outputs (they compute the same thing).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer

SHAPES = [  # (batch, in channels, out channels, input side)
    (224, 512, 128, 4),
    (224, 256, 64, 8),
    (224, 128, 32, 16),
    (224, 64, 1, 32),
    (64, 256, 128, 4),
    (64, 128, 64, 8),
    (64, 64, 1, 16),
]


def taps(phase: int) -> list[tuple[int, int]]:
    """(offset into the 3x3 window, kernel tap) pairs for one output phase along one axis: output 2i + phase
    reads input i + d with tap phase + 1 - 2d, for d = -1, 0, 1 where that tap exists."""
    return [(d + 1, phase + 1 - 2 * d) for d in (-1, 0, 1) if 0 <= phase + 1 - 2 * d < 4]


def subpixel_weight(weight: torch.Tensor) -> torch.Tensor:
    """(C_in, C_out, 4, 4) transposed-conv weight -> (4 C_out, C_in, 3, 3) for a pixel shuffle by 2."""
    c_in, c_out = weight.shape[:2]
    out = weight.new_zeros(c_out, 2, 2, c_in, 3, 3)
    for a in range(2):
        for row, ky in taps(a):
            for b in range(2):
                for col, kx in taps(b):
                    out[:, a, b, :, row, col] = weight[:, :, ky, kx].t()
    return out.reshape(c_out * 4, c_in, 3, 3)


def native(x, weight, bias):
    return F.conv_transpose2d(x, weight, bias, stride=2, padding=1)


def subpixel(x, weight, bias):
    return F.pixel_shuffle(F.conv2d(x, subpixel_weight(weight), None, padding=1), 2) + bias.view(1, -1, 1, 1)


def phases(x, weight, bias):
    n, _, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1))
    rows = []
    for a in range(2):
        (r0, ky0), (r1, ky1) = taps(a)
        cols = []
        for b in range(2):
            (c0, kx0), (c1, kx1) = taps(b)
            kernel = weight[:, :, [ky0, ky1]][:, :, :, [kx0, kx1]].transpose(0, 1)
            cols.append(F.conv2d(padded[:, :, r0 : r0 + h + 1, c0 : c0 + w + 1], kernel))
        rows.append(torch.stack(cols, -1))
    return torch.stack(rows, 3).reshape(n, -1, 2 * h, 2 * w) + bias.view(1, -1, 1, 1)


def timed(fn, x, weight, bias, repeats: int) -> float:
    """Milliseconds a forward (bf16 autocast) and backward, after torch's Timer's warm-up, on main's threads."""

    def once():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fn(x, weight, bias)
        out.float().square().mean().backward()

    return Timer("once()", globals={"once": once}, num_threads=torch.get_num_threads()).timeit(repeats).mean * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"{'shape':<24} {'native ms':>10} {'sub-pixel':>18} {'four phases':>18} {'max diff':>9}")
    for n, c_in, c_out, side in SHAPES:
        x = torch.randn(n, c_in, side, side).to(memory_format=torch.channels_last).requires_grad_()
        layer = torch.nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)
        weight = layer.weight.detach().clone().requires_grad_()
        bias = layer.bias.detach().clone().requires_grad_()
        with torch.no_grad():
            reference = native(x, weight, bias)
            diff = max(float((fn(x, weight, bias) - reference).abs().max()) for fn in (subpixel, phases))
        base = timed(native, x, weight, bias, args.repeats)
        sub = timed(subpixel, x, weight, bias, args.repeats)
        four = timed(phases, x, weight, bias, args.repeats)
        shape = f"{n}x{c_in}->{c_out} @{side}px"
        print(
            f"{shape:<24} {base:>10.1f} {sub:>9.1f} ({base / sub:.2f}x) {four:>9.1f} ({base / four:.2f}x) {diff:>9.1e}"
        )


if __name__ == "__main__":
    main()
