"""Sanity of the video metrics (issue 26, item 4): the Fréchet video distance on the shipped clip networks.

    python benchmarks/video_metrics.py [--clips 500]

For each dataset with a shipped clip network: FVD (and per-frame FID under both image networks where the frames
have them) between the real test clips and (a) as many real train clips: the floor, (b) train clips with their
frames shuffled, (c) one frame of each shown throughout, (d) each frame taken from another clip. A video distance
must put (a) near 0 and (b)-(d) clearly above it; per-frame FID cannot see (b) at all, since the set of frames is
the same. Then swaps on moving-shapes, judged by its clip network against the true factors: an oracle swap (the
renderer given A's content and B's motion), a copy of A, and a copy of B.

Writes docs/results/video_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from imsynth.data import load_dataset
from imsynth.data.clips import render_moving_shapes
from imsynth.metrics.clip_features import clip_features, factor_agreement, head_accuracy, load_clip_feature_net
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import frechet_distance
from imsynth.metrics.video import BROKEN, broken_clips
from imsynth.runtime.classifier import SECOND

# seed 9: clips made apart from the ones the networks trained on (seed 0)
DATASETS = ("moving-fashion?items=1&stochastic=1&seed=9", "moving-fashion?stochastic=1&seed=9", "moving-shapes?seed=9")


def sanity(name: str, count: int) -> dict:
    data = load_dataset(f"{name}&train={count}&test={count}")
    net, info = load_clip_feature_net(data.name)
    real = data.test_images
    sets = {"real (floor)": data.train_images, **{how: broken_clips(data.train_images, how) for how in BROKEN}}
    reference = clip_features(net, real)
    row: dict = {
        "clips": count,
        "clip_net": info["name"],
        "accuracy": dict(zip(info["factors"], [round(a, 4) for a in head_accuracy(net, real, data.factors_test)])),
        "fvd": {key: round(frechet_distance(reference, clip_features(net, value)), 3) for key, value in sets.items()},
    }
    if data.frame_features:
        row["frame_fid"] = {}
        for architecture in ("vgg", SECOND):
            image_net, image_info = load_feature_net(data.frame_features, architecture=architecture)
            frames = extract_features(image_net, real.flatten(0, 1))
            row["frame_fid"][image_info["name"]] = {
                key: round(frechet_distance(frames, extract_features(image_net, value.flatten(0, 1))), 3)
                for key, value in sets.items()
            }
    return row


def swaps(count: int) -> dict:
    data = load_dataset(f"moving-shapes?seed=9&train=1&test={count}")
    net, info = load_clip_feature_net(data.name)
    content, motion = data.factors_test, data.factors_test.roll(1, 0)  # B: the next clip
    mixed = torch.cat([content[:, :2], motion[:, 2:]], dim=1)
    starts = np.tile(np.array([[0, 16, 16]]), (count, 1))
    oracle = torch.from_numpy(render_moving_shapes(mixed.numpy(), starts, data.frames))
    a, b = (torch.from_numpy(render_moving_shapes(f.numpy(), starts, data.frames)) for f in (content, motion))
    return {
        name: factor_agreement(net, info, clips, content, motion)
        for name, clips in (("oracle swap", oracle), ("copy of A", a), ("copy of B", b))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--out", default="docs/results/video_metrics.json")
    args = parser.parse_args()
    started = time.perf_counter()
    results = {"sanity": {}, "command": f"python benchmarks/video_metrics.py --clips {args.clips}"}
    for name in DATASETS:
        results["sanity"][name] = row = sanity(name, args.clips)
        print(name, json.dumps(row["accuracy"]))
        print("  FVD      ", "  ".join(f"{k} {v:.2f}" for k, v in row["fvd"].items()))
        floor = row["fvd"]["real (floor)"]
        print("  ratio    ", "  ".join(f"{k} {v / floor:.1f}x" for k, v in row["fvd"].items() if k in BROKEN))
        for net_name, fids in row.get("frame_fid", {}).items():
            print(f"  frame FID ({net_name})", "  ".join(f"{k} {v:.2f}" for k, v in fids.items()))
    results["swaps"] = swaps(args.clips)
    for name, row in results["swaps"].items():
        print(f"swap check, {name}: content kept {row['content_kept']:.3f}, motion kept {row['motion_kept']:.3f}")
    results["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
