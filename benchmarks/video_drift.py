"""Why a video run loses to copying the last frame on a recording: batch-norm statistics, fit, or free-run drift.

    python benchmarks/video_drift.py RUN... --data 'video:FILE?frames=15&stride=3&size=64'

Per run: the one-step error (teacher forcing, the training loss's per-pixel `mse` on the [0, 1] scale) on 64
training clips and on the test clips, beside copying the previous frame; best-of-20 SSIM (5 frames given, 10
predicted, as benchmarks/video.py) and its first three frames; for a run with batch norm also with statistics
recomputed over all training clips and with the test batch's own (docs/benchmarks.md, Video, "Why batch norm
hurts here").
"""

from __future__ import annotations

import argparse
import json

import torch
from video import CONTEXT, FRAMES, SAMPLES  # benchmarks/video.py: the same task, defined once
from video_weights import recalibrate

from imsynth.data import load_dataset
from imsynth.metrics.video import prediction_report
from imsynth.models import load_run


def ssim(model, clips) -> dict:
    report = prediction_report(model.eval(), clips, context=CONTEXT, frames=FRAMES, samples=SAMPLES, seed=0)
    best = report["ssim"]["best"]
    return {"best": best["average"], "first_frames": best["per_frame"][:3]}


@torch.no_grad()
def one_step(model, clips) -> float:
    return round(float(model.eval().loss(clips).parts["mse"]), 5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    data = load_dataset(args.data)
    train, test = data.to_batch(data.train_images[:64]), data.to_batch(data.test_images)
    copy = {name: round(float((c[:, 1:].float() - c[:, :-1].float()).div(2).pow(2).mean()), 5)
            for name, c in (("train", train), ("test", test))}  # fmt: skip
    report = {"data": args.data, "copy_previous_one_step": copy}
    for run in args.runs:
        model = load_run(run)[0]
        row = {"one_step": {"train": one_step(model, train), "test": one_step(model, test)}}
        row["ssim_running_statistics"] = ssim(model, test)
        if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            every = len(data.train_images) // 16
            recalibrate(model, every, 16, data)  # batches drawn at random, about every training clip once
            row["ssim_recomputed_statistics"] = ssim(model, test)["best"]
            norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
            for norm in norms:  # the statistics of the whole test batch, once
                norm.reset_running_stats()
            with torch.no_grad():
                model.train().loss(test)
            row["ssim_test_batch_statistics"] = ssim(model, test)["best"]
        report[run] = row
        print(json.dumps({run: row}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
