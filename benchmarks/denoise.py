"""Restoration of every corruption kind: imsynth's learned restorers against the classical denoisers.

    python benchmarks/denoise.py --dvae runs/dvae [--vae runs/vae] [--ddpm runs/ddpm] [--gan runs/dcgan] \
        [--images 500] [--severity 3] [--photos]

Fashion-MNIST test images (the first ``--images`` of a fixed permutation), each kind of
``imsynth.classical.corrupt`` at ``--severity`` (seed = image index), restored by every classical method of the
denoiser table (scikit-image, OpenCV, bm3d; sigma estimated from each image, as a user would run them) and by
each given run. Prints PSNR (dB) / SSIM per kind and method, the in-domain FID (Fashion-MNIST feature network)
of each restored set against the clean test images, and the gap between the best imsynth restorer and the best
classical one per kind; writes docs/images/denoise_grid.png (rows: kinds; columns: clean, damaged, methods).
``--photos``: the classical methods on scikit-image's photographs (256 px), where no model of ours is trained.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from imsynth.apps.restore import restore, score_restoration
from imsynth.classical.corrupt import CORRUPTIONS, corrupt
from imsynth.classical.denoise import DENOISERS
from imsynth.data import load_dataset
from imsynth.image import save_grid
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import frechet_distance
from imsynth.models import load_run
from imsynth.runtime.tensors import numpy_to_tensor, uint8_to_nhwc

ROOT = Path(__file__).resolve().parent.parent


def fid(net, real_features, images: np.ndarray) -> float:
    return frechet_distance(real_features, extract_features(net, numpy_to_tensor(images)))


def mean_psnr(images: list[np.ndarray], references: list[np.ndarray]) -> float:
    """Mean PSNR of images of different sizes (grey or colour)."""

    def one(image):
        return (image[:, :, None] if image.ndim == 2 else image)[None]

    return float(np.mean([score_restoration(one(a), one(b))["psnr"] for a, b in zip(images, references)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dvae")
    parser.add_argument("--vae")
    parser.add_argument("--ddpm")
    parser.add_argument("--gan")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--ddpm-strength", type=float, help="fixed t* strength (default: estimated per batch)")
    parser.add_argument("--kinds", default=",".join(CORRUPTIONS.names()))
    parser.add_argument("--photos", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    torch.set_num_threads(2)

    data = load_dataset("fashion-mnist")
    order = torch.randperm(len(data.test_images), generator=torch.Generator().manual_seed(0))[: args.images]
    clean = uint8_to_nhwc(data.test_images[order]).astype(np.float32) / 255
    net, _ = load_feature_net("fashion-mnist")
    real_features = extract_features(net, data.test_images)
    methods = [(name, name, None, {}) for name in DENOISERS.names(tag="classical")]
    for kind, path in (("dvae", args.dvae), ("vae", args.vae), ("ddpm", args.ddpm), ("gan", args.gan)):
        if not path:
            continue
        options = {"steps": 100, "restarts": 2} if kind == "gan" else {}
        if kind == "ddpm" and args.ddpm_strength:
            options["strength"] = args.ddpm_strength
        methods.append((Path(path).name, None, load_run(path)[0], options))  # labelled by the run's folder

    results: dict[str, dict[str, dict]] = {}
    grid_rows = []
    kinds = args.kinds.split(",")
    for kind in kinds:
        damaged = np.stack([corrupt(image, kind, args.severity, seed=i) for i, image in enumerate(clean)])
        row = {"damaged": {**score_restoration(damaged, clean), "fid": fid(net, real_features, damaged)}}
        pictures = [clean[0], damaged[0]]
        for label, name, model, options in methods:
            started = time.perf_counter()
            out = np.stack(restore(list(damaged), name, model=model, **options)).reshape(clean.shape)
            seconds = time.perf_counter() - started
            row[label] = {**score_restoration(out, clean), "fid": fid(net, real_features, out), "seconds": seconds}
            pictures.append(out[0])
            print(f"{kind:9s} {label:14s} PSNR {row[label]['psnr']:6.2f}  SSIM {row[label]['ssim']:.3f}  "
                  f"FID {row[label]['fid']:7.2f}  {seconds:6.1f} s", flush=True)  # fmt: skip
        results[kind] = row
        grid_rows.append(np.stack(pictures))

    labels = ["damaged"] + [label for label, *_ in methods]
    print("\nPSNR (dB) / SSIM / FID, severity", args.severity, f"n={len(clean)}")
    print("| kind | " + " | ".join(labels) + " | best imsynth - best classical (dB) |")
    print("|---" * (len(labels) + 2) + "|")
    gaps = []
    classical = [label for label, name, model, _ in methods if model is None]
    ours = [label for label, name, model, _ in methods if model is not None]
    for kind, row in results.items():
        cells = [f"{row[label]['psnr']:.2f} / {row[label]['ssim']:.3f} / {row[label]['fid']:.1f}" for label in labels]
        gap = ""
        if ours:
            best_ours = max(row[label]["psnr"] for label in ours)
            best_classical = max(row[label]["psnr"] for label in classical)
            gaps.append(best_ours - best_classical)
            gap = f"{gaps[-1]:+.2f}"
        print(f"| {kind} | " + " | ".join(cells) + f" | {gap} |")
    if gaps:
        print(f"\nmean gap over kinds: {np.mean(gaps):+.2f} dB (target >= +2 dB, and on rain and lighting separately)")

    grid = np.concatenate(grid_rows)
    images_dir = ROOT / "docs" / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    if grid.shape[-1] == 1:
        grid = np.repeat(grid, 3, axis=-1)
    save_grid(images_dir / "denoise_grid.png", grid, nrow=len(labels) + 1, scale=3)
    print("columns of docs/images/denoise_grid.png: clean, " + ", ".join(labels))

    if args.photos:
        from skimage import data as samples

        photos = [getattr(samples, name)() for name in ("astronaut", "coffee", "chelsea", "camera", "rocket")]
        photos = [np.asarray(p[:512:2, :512:2], np.float32) / 255 for p in photos]
        print("\nscikit-image photographs (256 px), classical methods, PSNR (dB)")
        print("| kind | damaged | " + " | ".join(classical) + " |")
        print("|---" * (len(classical) + 2) + "|")
        for kind in kinds:
            damaged = [corrupt(p, kind, args.severity, seed=i) for i, p in enumerate(photos)]
            cells = [mean_psnr(damaged, photos)]
            cells += [mean_psnr(restore(damaged, label), photos) for label in classical]
            print(f"| {kind} | " + " | ".join(f"{c:.2f}" for c in cells) + " |", flush=True)

    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
