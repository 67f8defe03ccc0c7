"""Can the video models' frame networks draw one item from a code? (issue 26: dsvae's collapse)

    python benchmarks/frame_autoencoder.py --norm none    # and --norm batch

A plain autoencoder on single frames of `moving-fashion?items=1&stochastic=1` (64x64): `FrameEncoder`, a linear
layer to a 40-number code (dsvae's 32 content + 8 motion), `FrameDecoder` with no skips; no KL, no recurrence.
Batch 128, Adam at lr 1e-3 (the video models' default), seed 0, one thread. Prints the per-frame cross-entropy
(nats, smoothed) every 100 steps beside the data's floor (the frames' cross-entropy with themselves): a decoder
that stays near 750 draws the mean frame.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from imsynth.data import load_dataset
from imsynth.models.video import NORMS, FrameDecoder, FrameEncoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--norm", choices=NORMS, default="batch")
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    frames = load_dataset("moving-fashion?items=1&stochastic=1").train_images.flatten(0, 1)
    target = frames[:2000].float() / 255
    floor = F.binary_cross_entropy(target, target, reduction="sum") / len(target)
    encoder = FrameEncoder(1, 64, 32, 128, norm=args.norm)
    decoder = FrameDecoder(1, 64, 32, 40, skips=False, norm=args.norm)
    code = nn.Linear(128, 40)
    optimiser = torch.optim.Adam([*encoder.parameters(), *code.parameters(), *decoder.parameters()], lr=1e-3)
    smoothed = None
    for step in range(1, args.steps + 1):
        batch = frames[torch.randint(len(frames), (128,))].float() / 127.5 - 1
        logits = decoder(code(encoder(batch)[0]))
        loss = F.binary_cross_entropy_with_logits(logits, (batch + 1) / 2, reduction="sum") / len(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        smoothed = loss.item() if smoothed is None else 0.9 * smoothed + 0.1 * loss.item()
        if step % 100 == 0:
            print(f"norm={args.norm} step {step}: {smoothed:.1f} nats a frame (floor {floor:.1f})", flush=True)


if __name__ == "__main__":
    main()
