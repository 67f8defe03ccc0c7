"""Why a video run predicts as it does (issue 26): three checks on a trained run, each a figure in docs/benchmarks.md.

    python benchmarks/video_probe.py samplers RUN [--clips 8] [--frames 4]
    python benchmarks/video_probe.py conditioning RUN [--windows 32]
    python benchmarks/video_probe.py memorised RUN [--clips 12] [--samples 2]

samplers: a diffusion run's prediction (5 frames given) under UniPC-10, DDIM-25 and DDIM-100, SSIM per predicted
frame beside copying the last frame: is the sampler what holds its prediction back?
conditioning: a video-ddpm run's loss (its own training loss, v-prediction MSE on one block of test windows) at
noise levels t = 100 ... 900 with its past frames given and zeroed (masked, as in training): does it use them?
memorised: best-of-N SSIM on the run's first training clips and on its test clips, and on the test clips again with
batch norm on the batch's own statistics: does a run trained on few clips predict its own and nothing else?
"""

from __future__ import annotations

import argparse
import json

import torch

from imsynth.data import load_dataset
from imsynth.metrics.video import prediction_report
from imsynth.models import load_run, sampling_config

CONTEXT = 5


def test_clips(saved: dict, count: int, *, train: bool = False) -> torch.Tensor:
    data = load_dataset(saved["data"]["name"])
    return data.to_batch((data.train_images if train else data.test_images)[:count])


def summary(report: dict) -> dict:
    ssim = report["ssim"]
    return {
        "best": round(ssim["best"]["average"], 4),
        "per_frame_best": [round(value, 3) for value in ssim["best"]["per_frame"]],
        "copy_last": round(report["copy_last_frame"]["ssim"]["average"], 4),
        "copy_last_per_frame": [round(value, 3) for value in report["copy_last_frame"]["ssim"]["per_frame"]],
    }


def samplers(model, saved, args) -> dict:
    clips = test_clips(saved, args.clips)
    out = {}
    for name, steps in (("unipc", 10), ("ddim", 25), ("ddim", 100)):
        model.config = sampling_config(model, name, steps)
        out[f"{name}-{steps}"] = summary(
            prediction_report(model, clips, context=CONTEXT, frames=args.frames, samples=1)
        )
    return out


def conditioning(model, saved, args) -> dict:
    """The run's loss on windows at frames 3-7 of each test clip (past 3-4, block 5-6, future 7 masked), one noise
    draw, at fixed t: the loss's random choices are fed in, so past given and past masked see the same noise."""
    clips = test_clips(saved, args.windows).float()
    c = model.config
    span = c.past + c.block + c.future
    start = (3 + 0.5) / (clips.shape[1] - span + 1)  # the window's start as the loss draws it, a fraction
    eps = torch.randn(
        len(clips), c.block * c.channels, c.image_size, c.image_size, generator=torch.Generator().manual_seed(0)
    )
    out = {}
    for t in (100, 300, 500, 700, 900):
        row = {}
        for name, keep_past in (("past given", 1.0), ("past masked", 0.0)):
            draws = iter([start, keep_past, 0.0, (t + 0.5) / c.timesteps])  # start, keep past, keep future, t

            def uniform(shape, draws=draws):
                return torch.full(shape, next(draws))

            with torch.no_grad():
                loss = model.loss(clips, uniform=uniform, noise=lambda shape: eps)
            row[name] = round(float(loss.loss), 4)
        out[str(t)] = row
    return out


def memorised(model, saved, args) -> dict:
    def best(clips):
        return summary(prediction_report(model, clips, context=CONTEXT, frames=clips.shape[1] - CONTEXT,
                                         samples=args.samples))  # fmt: skip

    out = {"train clips": best(test_clips(saved, args.clips, train=True)), "test clips": best(test_clips(saved, 10**6))}
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.train()  # normalise by the batch's own statistics, not the running ones
    out["test clips, batch statistics"] = best(test_clips(saved, 10**6))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=("samplers", "conditioning", "memorised"))
    parser.add_argument("run")
    parser.add_argument("--clips", type=int, default=8, help="test clips (samplers) or training clips (memorised)")
    parser.add_argument("--frames", type=int, default=4, help="frames predicted (samplers)")
    parser.add_argument("--windows", type=int, default=32, help="test windows (conditioning)")
    parser.add_argument("--samples", type=int, default=2, help="futures per clip (memorised)")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, saved = load_run(args.run)
    model.eval()
    result = {"samplers": samplers, "conditioning": conditioning, "memorised": memorised}[args.check](
        model, saved, args
    )
    print(json.dumps({"run": args.run, "step": saved.get("step"), args.check: result}, indent=1))


if __name__ == "__main__":
    main()
