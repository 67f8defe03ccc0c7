"""pix2pix against its "L1 alone" ablation (Isola et al. 2017, table 1) on edges -> Fashion-MNIST item.

    python benchmarks/translation.py --minutes 10 [--out-dir runs/bench-translation]

Trains `pix2pix` (L1 x 100 + GAN) and the same U-Net with `--set gan_weight=0` for the same wall time, side by side
(one thread each), on `pairs:fashion-mnist~edges`, then translates the 10,000 test edge maps and prints, for each,
the L1 error against the real items and the in-domain FID of the translations against the real test items (the
shipped Fashion-MNIST feature network). Target (issue 14): pix2pix's FID lower than the L1-only U-Net's, at an L1
no more than 10% worse. Writes docs/results/translation.json and docs/images/translation_grid.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from imsynth.data import load_dataset
from imsynth.image import save_grid
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import compare_features
from imsynth.models import load_run
from imsynth.runtime.tensors import from_model, to_model

DATA = "pairs:fashion-mnist~edges"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--out-dir", default="runs/bench-translation")
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args()
    out = Path(args.out_dir)
    runs = {"pix2pix": out / "pix2pix", "l1-only": out / "l1-only"}
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["--data", DATA, "--minutes", str(args.minutes), "--quiet", "--set", "width=32", "--set", "d_width=32"]
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", "imsynth.cli", "train", "pix2pix", "--out", str(run), *common]
            + (["--set", "gan_weight=0"] if name == "l1-only" else []),
            env=environment,
        )
        for name, run in runs.items()
        if not (run / "model.safetensors").exists()
    ]
    if any(job.wait() for job in jobs):
        raise SystemExit("a training run failed")
    data = load_dataset(DATA)
    test = data.test_images[: args.n]
    net, info = load_feature_net("fashion-mnist")
    real = extract_features(net, test[:, 1:])
    results, grid = {}, [test[:8, :1]]
    for name, run in runs.items():
        model, saved = load_run(run)
        inputs, targets = model.split(to_model(test))
        with torch.no_grad():
            outputs = torch.cat([model.translate(inputs[i : i + 500]) for i in range(0, len(inputs), 500)])
        l1 = float((outputs - targets).abs().mean() / 2)  # on the [0, 1] scale
        fid = compare_features(real, extract_features(net, outputs))["fid"]
        results[name] = {"l1": round(l1, 4), "fid": round(fid, 2), "steps": saved.get("step")}
        grid.append(from_model(outputs[:8]))
        print(json.dumps({name: results[name]}), flush=True)
    grid.append(test[:8, 1:])
    floor = compare_features(real, extract_features(net, data.train_images[: args.n, 1:]))["fid"]
    summary = {
        "data": DATA,
        "minutes": args.minutes,
        "feature_net": info,
        "fid_floor_train_vs_test": round(floor, 2),
        **results,
        "fid_ratio_pix2pix_over_l1": round(results["pix2pix"]["fid"] / results["l1-only"]["fid"], 3),
        "l1_ratio_pix2pix_over_l1": round(results["pix2pix"]["l1"] / results["l1-only"]["l1"], 3),
    }
    summary["target_met"] = summary["fid_ratio_pix2pix_over_l1"] < 1 and summary["l1_ratio_pix2pix_over_l1"] <= 1.1
    print(json.dumps(summary), flush=True)
    Path("docs/results").mkdir(parents=True, exist_ok=True)
    Path("docs/results/translation.json").write_text(json.dumps(summary, indent=1))
    rows = torch.cat(grid).float() / 255  # rows: edges, pix2pix, L1 only, real
    save_grid("docs/images/translation_grid.png", rows.permute(0, 2, 3, 1).numpy(), nrow=8, scale=4)
    print("wrote docs/results/translation.json and docs/images/translation_grid.png")


if __name__ == "__main__":
    main()
