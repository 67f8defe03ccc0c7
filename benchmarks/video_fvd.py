"""Fréchet video distance of trained video runs (issue 26): the same clips and networks for every model.

    python benchmarks/video_fvd.py [--runs runs/bench-video] [--models svg,svg-det,dsvae,video-ddpm,mocogan]
                                   [--clips 256] [--sampler unipc --steps 10] [--predict]

For each run in --runs: --clips clips from it (drawn from nothing where the model samples; otherwise the first
5 real frames of each test clip, then one prediction of 10), scored by ``imsynth.evaluate.video_quality`` against
as many test clips of the data it trained on: FVD/KVD on the shipped clip network, per-frame FID under both
Fashion-MNIST networks, each beside its floor (train clips against test clips). video-ddpm samples with
--sampler/--steps (UniPC-10 by default: DDIM-25 costs 2.5x as much). Then, where `dsvae-one-item` exists, its
swaps on one-item test clips judged by the clip network against the true item, direction and speed.

Writes docs/results/video_fvd.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from imsynth.data import load_dataset
from imsynth.evaluate import clips_to_score, swap_quality, video_quality
from imsynth.models import IterativeSampler, load_run, sampling_config

CONTEXT = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-video"))
    parser.add_argument("--models", default="svg,svg-det,dsvae,video-ddpm,mocogan")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--sampler", default="unipc")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument(
        "--predict",
        action="store_true",
        help="score predictions (5 real frames, then one prediction) from models that also sample: like for like",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results/video_fvd.json"))
    args = parser.parse_args()
    results: dict = {"clips": args.clips, "runs": {}}
    for name in args.models.split(","):
        run = args.runs / name
        if not (run / "model.safetensors").exists():
            print(f"{name}: no run in {run}, skipped")
            continue
        started = time.perf_counter()
        model, saved = load_run(run)
        if isinstance(model, IterativeSampler):
            model.config = sampling_config(model, args.sampler, args.steps)
        dataset = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
        made, origin = clips_to_score(
            model, dataset, dataset.test_images[: args.clips], CONTEXT, seed=0, predict=args.predict
        )
        row = {"step": saved.get("step"), "data": dataset.name, "generated": origin}
        row.update(video_quality(dataset, dataset.test_images[: args.clips], made))
        row["seconds"] = round(time.perf_counter() - started, 1)
        results["runs"][name] = row
        fvd = row["fvd"]
        frames = "  ".join(
            f"frame FID {entry['fid']:.2f} (floor {entry['fid_floor_train_vs_test']:.2f})" for entry in row["frame_fid"]
        )
        print(
            f"{name:10s} step {row['step']}: FVD {fvd['fvd']:.2f} (floor {fvd['fvd_floor_train_vs_test']:.2f}, "
            f"{fvd['fvd'] / fvd['fvd_floor_train_vs_test']:.0f}x)  KVD {fvd['kvd']:.3f}  {frames}  [{origin}, "
            f"{row['seconds']:.0f} s]"
        )
    swapper = args.runs / "dsvae-one-item"
    if (swapper / "model.safetensors").exists():
        model, saved = load_run(swapper)
        dataset = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
        results["swap"] = swap_quality(model, dataset, dataset.test_images, seed=0)
        print(f"dsvae-one-item swaps: {json.dumps(results['swap'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
