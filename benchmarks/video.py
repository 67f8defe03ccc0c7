"""Video benchmarks (issue 26): stochastic prediction on moving-fashion, content/motion swaps, a real recording.

    python benchmarks/video.py --minutes 30 [--runs runs/bench-video] [--models svg,svg-det,dsvae,video-ddpm] [--swap] [--real]
    python benchmarks/video.py --steps 1952 ...   # equal steps instead of equal time (a training beside other work)

Prediction: trains each model for the same wall time (sequentially, two cores each) on stochastic
`moving-fashion` (2 items, a new direction and speed at each bounce, 15-frame clips of 64x64), then predicts 10
frames after 5 for 64 test clips (made from Fashion-MNIST test items only), 20 samples each, and prints SSIM/PSNR
per future frame: best of 20 (per clip, the sample nearest the truth, the SVG/SRVP protocol) and mean of 20,
beside copying the last context frame. Target: svg's best-of-20 SSIM over the 10 frames >= copy-last + 0.10 and
>= svg-det's; video-ddpm (sampled with its run's sampler, DDIM-25, or --sampler/--sampler-steps; --diffusion-samples
futures per clip, 5 by default) at least as good as svg and dsvae, or the table says by how much it falls short.

--swap: a dsvae trained as long on one-item clips (`moving-fashion?items=1`), then 256 test pairs (A, B): content
kept = the shipped Fashion-MNIST classifier, shown the swapped item (28x28 around its centroid), names A's item
class (majority over the frames), beside the same classifier on the model's own reconstructions of A (the ceiling
the model's drawing sets) and the share where the swapped item is nearer the model's rendering of A than of B
(whose item it is, whatever the blur); motion kept = the swapped item's path stays within 4 px (mean over frames)
of B's. Target: both >= 90%.

--real: svg and the copy baseline on `video:vtest.avi` (opencv-doc; 64x64, first 80% of the recording trains,
last 20% tests), or on another recording given by --recording (opencv-doc's Megamind.avi: a film clip; a folder: its frames).
Target: SSIM above copy-last.

Writes docs/results/video.json and docs/images/video_predictions.png (rows per clip: the truth, svg's best,
svg-det, dsvae; context frames first) and docs/images/video_predictions.gif; with --swap, dsvae_swaps.png (per
pair: A, the model's drawing of A, B, the swap).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from imsynth.apps.video import write_clips
from imsynth.data import load_dataset
from imsynth.metrics.video import prediction_report, swap_report
from imsynth.models import IterativeSampler, load_run, sampling_config
from imsynth.runtime.classifier import load_feature_net
from imsynth.train import train_from_options

DATA = "moving-fashion?stochastic=1"
SWAP_DATA = "moving-fashion?items=1"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CONTEXT, FRAMES, CLIPS, SAMPLES = 5, 10, 64, 20


def trained(name: str, data: str, out: Path, budget: dict) -> Path:
    if (out / "model.safetensors").exists():
        print(f"reusing {out}", file=sys.stderr)
        return out
    started = time.perf_counter()
    result = train_from_options(name, out, data=data, quiet=True, **budget)
    print(f"{name}: {result.step} steps in {time.perf_counter() - started:.0f} s on {data}", file=sys.stderr)
    return out


def predictions(models: dict, clips: torch.Tensor, diffusion_samples: int = SAMPLES) -> dict:
    report = {}
    for name, model in models.items():
        started = time.perf_counter()
        samples = diffusion_samples if "iterative-sampler" in type(model).capabilities else SAMPLES
        report[name] = prediction_report(model, clips, context=CONTEXT, frames=FRAMES, samples=samples, seed=0)
        report[name]["seconds"] = round(time.perf_counter() - started, 1)
        ssim = report[name]["ssim"]
        print(
            f"{name:10s} SSIM best-of-{samples} {ssim['best']['average']:.4f}  mean {ssim['mean']['average']:.4f}  "
            f"PSNR best {report[name]['psnr']['best']['average']:.2f} dB",
            file=sys.stderr,
        )
    copy = next(iter(report.values()))["copy_last_frame"]
    print(f"copy-last SSIM {copy['ssim']['average']:.4f}  PSNR {copy['psnr']['average']:.2f} dB", file=sys.stderr)
    return report


def pictures(models: dict, clips: torch.Tensor, images: Path) -> None:
    rows = []
    for clip in clips[:4]:
        rows.append(clip[: CONTEXT + FRAMES])
        for model in models.values():
            future = model.predict(clip[None, :CONTEXT], FRAMES, generator=torch.Generator().manual_seed(0))[0]
            rows.append(torch.cat([clip[:CONTEXT], future]))
    stacked = torch.stack(rows)
    images.mkdir(parents=True, exist_ok=True)
    write_clips(images / "video_predictions.png", stacked, fps=10)
    write_clips(images / "video_predictions.gif", stacked, fps=5, columns=1 + len(models))


def swap_picture(content, rendered, motion, swapped, images: Path, pairs: int = 4) -> None:
    """Per pair, four rows: the content clip A, the model's drawing of A, the motion clip B, the swap."""
    rows = [clip[index] for index in range(pairs) for clip in (content, rendered, motion, swapped)]
    images.mkdir(parents=True, exist_ok=True)
    write_clips(images / "dsvae_swaps.png", torch.stack(rows), fps=10)


def blur_curve(sigmas=(0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)) -> dict:
    """How sharp a model's drawing must be for the classifier measure of a swap to reach a share: real one-item
    test clips blurred (per frame, sigma in pixels) and judged as a swap's content is, against the real labels
    and against what the classifier names on the unblurred clips (whose ceiling is 1)."""
    from scipy.ndimage import gaussian_filter

    classifier, _ = load_feature_net("fashion-mnist")
    data = load_dataset(SWAP_DATA, limit=256)
    real = data.to_batch(data.test_images[:256])
    curve = {}
    for sigma in sigmas:
        blurred = torch.from_numpy(gaussian_filter(real.numpy(), sigma=(0, 0, 0, sigma, sigma))) if sigma else real
        report = swap_report(
            blurred, real, data.test_labels[:256], classifier, item_size=28, tolerance=4.0, content_clips=real
        )
        curve[str(sigma)] = {k: report[k] for k in ("content_kept", "content_as_classified")}
        print(f"blur sigma {sigma}: {curve[str(sigma)]}", file=sys.stderr)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall time per model")
    parser.add_argument(
        "--steps",
        type=int,
        help="train each model this many steps instead (when the cores are shared, time is no budget)",
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-video"))
    parser.add_argument("--models", default="svg,svg-det,dsvae,video-ddpm")
    parser.add_argument("--diffusion-samples", type=int, default=5, help="futures per clip for video-ddpm")
    parser.add_argument("--sampler", help="video-ddpm's sampler (default: its run's, DDIM)")
    parser.add_argument("--sampler-steps", type=int, help="video-ddpm's sampling steps (default: its run's, 25)")
    parser.add_argument("--swap", action="store_true", help="also train and measure dsvae swaps on one-item clips")
    parser.add_argument(
        "--blur-curve",
        action="store_true",
        help="also score real one-item clips blurred by a Gaussian through the swap's content measure (no model)",
    )
    parser.add_argument("--real", action="store_true", help="also train svg on a real recording (--recording)")
    parser.add_argument("--recording", type=Path, default=VTEST, help="--real's recording (default: vtest.avi)")
    parser.add_argument("--results", type=Path, default=Path("docs/results/video.json"))
    # pictures go beside the runs unless asked for: a probe must not overwrite the published ones in docs/images
    parser.add_argument("--images", type=Path, help="where the prediction picture and GIF go (default: RUNS/images)")
    args = parser.parse_args()
    torch.manual_seed(0)
    budget = {"steps": args.steps} if args.steps else {"minutes": args.minutes}
    results: dict = {"budget_per_model": budget, "data": DATA, "context": CONTEXT, "frames": FRAMES}
    names = [name for name in args.models.split(",") if name]
    models = {}
    for name in names:
        models[name] = load_run(trained(name, DATA, args.runs / name, budget))[0]
        if isinstance(models[name], IterativeSampler):
            models[name].config = sampling_config(models[name], args.sampler, args.sampler_steps)
            results[f"{name}_sampler"] = [models[name].config.sampler, models[name].config.sample_steps]
    if models:  # --models "" measures only --swap / --real
        test = load_dataset(DATA, limit=CLIPS)
        clips = test.to_batch(test.test_images[:CLIPS])
        results["prediction"] = predictions(models, clips, args.diffusion_samples)
        pictures(models, clips, args.images or args.runs / "images")
    if args.swap:
        model = load_run(trained("dsvae", SWAP_DATA, args.runs / "dsvae-one-item", budget))[0]
        data = load_dataset(SWAP_DATA, limit=256)
        a = data.to_batch(data.test_images[:256])
        order = torch.from_numpy(np.random.default_rng(0).permutation(len(a)))
        swapped = model.swap(a, a[order])
        rendered = model.reconstruct(a)
        classifier, _ = load_feature_net("fashion-mnist")
        labels = data.test_labels[:256]

        def judge(made, motion, **more):
            return swap_report(made, motion, labels, classifier, item_size=28, tolerance=4.0, **more)

        results["swap"] = judge(swapped, a[order], content_clips=a, renderings=(rendered, rendered[order]))
        swap_picture(a, rendered, a[order], swapped, args.images or args.runs / "images")
        # the model's own ceiling: its reconstructions judged the same way (content and motion from one clip)
        results["swap"]["reconstruction"] = judge(rendered, a, content_clips=a)
        # the classifier on the real clips, as the ceiling of the content measurement
        results["swap"]["classifier_on_real_clips"] = judge(a, a)["content_kept"]
        print(f"swap: {results['swap']}", file=sys.stderr)
    if args.blur_curve:
        results["classifier_through_blur"] = blur_curve()
    if args.real and args.recording.exists():
        kind = "frames" if args.recording.is_dir() else "video"  # a folder of frames, or a video file
        spec = f"{kind}:{args.recording}?frames=15&stride=3&size=64"
        name = "svg-vtest" if args.recording == VTEST else f"svg-{args.recording.stem.lower()}"
        model = load_run(trained("svg", spec, args.runs / name, budget))[0]
        data = load_dataset(spec)
        clips = data.to_batch(data.test_images)
        results["real"] = {"data": spec, **predictions({"svg": model}, clips)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "prediction"}, indent=1))


if __name__ == "__main__":
    main()
