"""Which weights of a trained prediction run predict best: the EMA's (what a run with ``train.ema_decay > 0`` saves),
the same with batch-norm statistics recomputed for them, or the raw weights of the last training state.

    python benchmarks/video_weights.py RUN [--batches 100] [--results out.json]

Runs trained before the engine averaged batch-norm statistics (session 17) saved the EMA of the parameters beside
the raw model's buffers, so the averaged weights ran with statistics gathered under other weights (newer runs save
averaged statistics; benchmarks/ema_statistics.py compares the two pairings). This measures what that costs, on the video
benchmark's task (docs/benchmarks.md, Video): stochastic `moving-fashion`, 5 frames given, 10 predicted, 64 test
clips, best and mean of 20 futures, SSIM averaged over the 10 frames, copy-last beside. RUN must hold its training
state (``state/``) and have been trained with an EMA.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from video import CLIPS, CONTEXT, DATA, FRAMES, SAMPLES  # benchmarks/video.py: the same task, defined once

from imsynth.data import load_dataset
from imsynth.metrics.video import prediction_report
from imsynth.models import load_run
from imsynth.runtime import runs


def scored(model, clips) -> dict:
    report = prediction_report(model.eval(), clips, context=CONTEXT, frames=FRAMES, samples=SAMPLES, seed=0)
    return {
        "ssim_best": report["ssim"]["best"]["average"],
        "ssim_mean": report["ssim"]["mean"]["average"],
        "copy_last": report["copy_last_frame"]["ssim"]["average"],
    }


@torch.no_grad()
def recalibrate(model, batches: int, batch_size: int, data=None) -> None:
    """Batch-norm statistics recomputed for the model's current weights: cumulative averages over training-mode
    passes of the training loss on training clips (of ``data``, a loaded clip dataset; default the task's)."""
    data = data if data is not None else load_dataset(DATA)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    generator = torch.Generator().manual_seed(0)
    for _ in range(batches):
        index = torch.randint(len(data.train_images), (batch_size,), generator=generator)
        model.loss(data.to_batch(data.train_images[index]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--batches", type=int, default=100, help="training batches to recompute the statistics on")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    test = load_dataset(DATA, limit=CLIPS)
    clips = test.to_batch(test.test_images[:CLIPS])
    model, saved = load_run(args.run)
    if not saved["train"]["ema_decay"]:
        sys.exit(f"{args.run}: trained without an EMA; its saved weights are the raw ones")
    results = {"run": str(args.run), "ema": scored(model, clips)}
    recalibrate(model, args.batches, saved["train"]["batch_size"])
    results["ema_recomputed_statistics"] = scored(model, clips)
    latest = json.loads((args.run / runs.STATE / "latest.json").read_text())
    tensors = runs.read_tensors(args.run / runs.STATE / latest["tensors"])
    raw = {key.removeprefix("model."): value for key, value in tensors.items() if key.startswith("model.")}
    runs.load_weights_into(model, raw, args.run / runs.STATE)
    results["raw"] = scored(model, clips)
    results["raw_step"] = latest["step"]
    for name in ("ema", "ema_recomputed_statistics", "raw"):
        print(f"{name:26s} SSIM best-of-20 {results[name]['ssim_best']:.4f}  mean {results[name]['ssim_mean']:.4f}")
    print(f"copy-last                  SSIM {results['raw']['copy_last']:.4f}")
    if args.results:
        args.results.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
