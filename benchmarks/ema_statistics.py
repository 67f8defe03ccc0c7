"""What averaging the batch-norm statistics with the weights buys an image run: FID under both shipped feature
networks of one run's last training state, taken three ways.

    python benchmarks/ema_statistics.py RUN [RUN ...] [--n 5000] [--results out.json]
    python benchmarks/ema_statistics.py RUN --export DIR   # DIR/{ema,ema_raw_statistics,raw}/: runs to score elsewhere

- ``ema``: the averaged weights with the statistics averaged beside them (what the engine saves now);
- ``ema_raw_statistics``: the averaged weights with the raw model's statistics (what it saved before, gathered
  under other weights);
- ``raw``: the raw model's weights and statistics.

All three come from the same state (``state/``), so they differ only in which tensors are paired; each samples
``--n`` images with seed 0, scored against ``--n`` test images. The ratio printed is the old pairing's FID over
the new one's (above 1: the old pairing was worse). RUN must have been trained with an EMA by this version of
the engine (its state holds ``ema.*running_mean``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from imsynth.data import load_dataset
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import compare_features
from imsynth.models import load_run
from imsynth.runtime import runs
from imsynth.runtime.classifier import SECOND


def variants(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    raw = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    averaged = {k.removeprefix("ema."): v for k, v in tensors.items() if k.startswith("ema.")}
    statistics = {k for k in averaged if k.endswith(("running_mean", "running_var"))}
    return {
        "ema": {**raw, **averaged},
        "ema_raw_statistics": {**raw, **{k: v for k, v in averaged.items() if k not in statistics}},
        "raw": raw,
    }


def averaged_state(run: Path) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, meta = runs.load_state(run)
    if not any(k.startswith("ema.") and k.endswith("running_mean") for k in tensors):
        sys.exit(f"{run}: its state holds no averaged batch-norm statistics (no EMA, or saved before them)")
    return tensors, meta


def export(run: Path, folder: Path) -> None:
    tensors, _ = averaged_state(run)
    for name, weights in variants(tensors).items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(run / runs.CONFIG, folder / name / runs.CONFIG)
        runs.write_tensors(folder / name / runs.WEIGHTS, {k: v.contiguous() for k, v in weights.items()})
        print(folder / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--export", type=Path, help="write the three weight sets as runs under this folder")
    args = parser.parse_args()
    if args.export:
        export(args.runs[0], args.export)
        return
    results = []
    for run in args.runs:
        model, saved = load_run(run)
        tensors, meta = averaged_state(run)
        dataset = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
        test = dataset.test_images[: args.n]
        nets = {
            "first": load_feature_net(dataset.name)[0],
            "second": load_feature_net(dataset.name, architecture=SECOND)[0],
        }
        real = {name: extract_features(net, test) for name, net in nets.items()}
        row = {"run": str(run), "model": saved["model"], "step": meta["step"], "ema_decay": saved["train"]["ema_decay"]}
        for name, weights in variants(tensors).items():
            runs.load_weights_into(model, weights, run / runs.STATE)
            fake = model.eval().generate(len(test), seed=0)
            row[name] = {
                net: round(compare_features(real[net], extract_features(nets[net], fake))["fid"], 3) for net in nets
            }
        results.append(row)
        print(f"{run} (step {row['step']}, EMA {row['ema_decay']}), FID first / second network, {len(test)} samples:")
        for name in ("ema", "ema_raw_statistics", "raw"):
            print(f"  {name:20s} {row[name]['first']:8.2f} / {row[name]['second']:6.3f}")
        ratios = [row["ema_raw_statistics"][net] / row["ema"][net] for net in nets]
        print(f"  old pairing / new: {ratios[0]:.2f}x / {ratios[1]:.2f}x")
    if args.results:
        args.results.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
