"""Which precision and memory format to use by default: imsynth's default VAE on Fashion-MNIST, trained for a
fixed number of steps in fp32/bf16 x contiguous/channels_last (and with/without the small-conv matmul path on a
DCGAN-like 4x4->1x1 head), img/s each and the ratio to fp32 contiguous, in one run.

Run:
    .venv/bin/python benchmarks/precision.py [--steps 60] [--batch 128]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch


def images_per_second(dataset, steps: int, batch: int, **train_options) -> float:
    from imsynth.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            steps=steps, batch_size=batch, sample_every=10**9, checkpoint_every=10**9, log_every=10**9, **train_options
        )
        started = time.perf_counter()
        train("vae", dataset, out, train_config=config, quiet=True)
        return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    from imsynth.data import load_dataset

    dataset = load_dataset("fashion-mnist", limit=args.steps * args.batch)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}; default VAE, Fashion-MNIST, batch {args.batch}")
    baseline = None
    for precision in ("fp32", "bf16"):
        for channels_last in (False, True):
            speed = images_per_second(dataset, args.steps, args.batch, precision=precision, channels_last=channels_last)
            baseline = baseline or speed
            print(
                f"{precision:5s} {'channels_last' if channels_last else 'contiguous':14s} {speed:8.1f} img/s  "
                f"ratio {speed / baseline:.2f}x"
            )


if __name__ == "__main__":
    main()
