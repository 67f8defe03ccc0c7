"""Translation benchmarks (issue 14): pix2pix against its "L1 alone" ablation, and CycleGAN sneaker <-> ankle boot.

    python benchmarks/translation.py pix2pix --minutes 10 [--out-dir runs/bench-translation]
    python benchmarks/translation.py cyclegan --minutes 35 [--out-dir runs/bench-cyclegan]

pix2pix (Isola et al. 2017, table 1) on edges -> Fashion-MNIST item: trains `pix2pix` (L1 x 100 + GAN) and the same U-Net with `--set gan_weight=0` for the same wall time, side by side
(one thread each), on `pairs:fashion-mnist~edges`, then translates the 10,000 test edge maps and prints, for each,
the L1 error against the real items and the in-domain FID of the translations against the real test items (the
shipped Fashion-MNIST feature network). Target (issue 14): pix2pix's FID lower than the L1-only U-Net's, at an L1
no more than 10% worse. Writes docs/results/translation.json and docs/images/translation_grid.png.

CycleGAN (Zhu et al. 2017) on `unpaired:fashion-mnist[7],fashion-mnist[9]`: trains `cyclegan` for the given wall
time (one thread), translates the 1,000 test sneakers and 1,000 test ankle boots each way and prints, per
direction: the share the shipped Fashion-MNIST classifier puts in the target class (the inputs themselves as the
"do nothing" baseline), the cycle reconstruction L1 on the [0, 1] scale, the outputs' feature diversity (total
variance of the shipped network's features) over the real target domain's, and the FID to the target domain.
Targets: >= 90% classified as the target, cycle L1 <= 0.05, diversity >= 80%. Writes docs/results/cyclegan.json
and docs/images/cyclegan_grid.png (rows: input, translation, cycle back).
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
from imsynth.metrics.features import accuracy, extract_features, load_feature_net
from imsynth.metrics.generative import compare_features
from imsynth.models import load_run
from imsynth.runtime.classifier import SECOND
from imsynth.runtime.tensors import from_model, to_model

DATA = "pairs:fashion-mnist~edges"
UNPAIRED = "unpaired:fashion-mnist[7],fashion-mnist[9]"
CLASSES = {"a": 7, "b": 9}  # sneaker, ankle boot


def pix2pix(args) -> None:
    out = Path(args.out_dir or "runs/bench-translation")
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
    second, _ = load_feature_net("fashion-mnist", architecture=SECOND)  # the verdict must not hang on one network
    real_second = extract_features(second, test[:, 1:])
    results, grid = {}, [test[:8, :1]]
    for name, run in runs.items():
        model, saved = load_run(run)
        inputs, targets = model.split(to_model(test))
        with torch.no_grad():
            outputs = torch.cat([model.translate(inputs[i : i + 500]) for i in range(0, len(inputs), 500)])
        l1 = float((outputs - targets).abs().mean() / 2)  # on the [0, 1] scale
        fid = compare_features(real, extract_features(net, outputs))["fid"]
        fid_second = compare_features(real_second, extract_features(second, outputs))["fid"]
        results[name] = {
            "l1": round(l1, 4),
            "fid": round(fid, 2),
            "fid_second_network": round(fid_second, 2),
            "steps": saved.get("step"),
        }
        grid.append(from_model(outputs[:8]))
        print(json.dumps({name: results[name]}), flush=True)
    grid.append(test[:8, 1:])
    floor = compare_features(real, extract_features(net, data.train_images[: args.n, 1:]))["fid"]
    summary = {
        "data": DATA,
        "minutes": json.loads((runs["pix2pix"] / "config.json").read_text())["train"]["minutes"],  # as trained
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


def _translated(model, inputs: torch.Tensor, direction: str) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model.translate(inputs[i : i + 500], direction) for i in range(0, len(inputs), 500)])


def cyclegan(args) -> None:
    run = Path(args.out_dir or "runs/bench-cyclegan") / "cyclegan"
    if not (run / "model.safetensors").exists():
        command = [sys.executable, "-m", "imsynth.cli", "train", "cyclegan", "--data", UNPAIRED, "--out", str(run)]
        command += ["--minutes", str(args.minutes), "--quiet", "--set", "width=16", "--set", "d_width=32"]
        command += ["--set", "blocks=6", "--set", "train.schedule=cosine"]
        subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    data = load_dataset("fashion-mnist")
    domains = {key: data.test_images[data.test_labels == label] for key, label in CLASSES.items()}
    net, info = load_feature_net("fashion-mnist")
    model, saved = load_run(run)
    results, grid = {}, []
    for source, target, direction, back in (("a", "b", "a2b", "b2a"), ("b", "a", "b2a", "a2b")):
        inputs = to_model(domains[source])
        outputs = _translated(model, inputs, direction)
        cycled = _translated(model, outputs, back)
        stored = from_model(outputs)  # what a saved PNG holds: the classifier reads 8-bit images
        target_labels = torch.full((len(stored),), CLASSES[target])
        real = extract_features(net, domains[target])
        made = extract_features(net, stored)
        results[direction] = {
            "classified_as_target": round(accuracy(net, stored, target_labels), 4),
            "inputs_classified_as_target": round(accuracy(net, domains[source], target_labels), 4),
            "real_target_classified_as_target": round(accuracy(net, domains[target], target_labels), 4),
            "cycle_l1": round(float((cycled - inputs).abs().mean() / 2), 4),
            "diversity_ratio": round(float(made.var(dim=0).sum() / real.var(dim=0).sum()), 3),
            "fid_to_target": round(compare_features(real, made)["fid"], 2),
            "fid_inputs_to_target": round(compare_features(real, extract_features(net, domains[source]))["fid"], 2),
        }
        print(json.dumps({direction: results[direction]}), flush=True)
        grid += [domains[source][:10], stored[:10], from_model(cycled[:10])]
    summary = {"data": UNPAIRED, "steps": saved.get("step"), "feature_net": info, **results}
    summary["target_met"] = all(
        r["classified_as_target"] >= 0.9 and r["cycle_l1"] <= 0.05 and r["diversity_ratio"] >= 0.8
        for r in results.values()
    )
    print(json.dumps({"target_met": summary["target_met"], "steps": summary["steps"]}), flush=True)
    Path("docs/results").mkdir(parents=True, exist_ok=True)
    Path("docs/results/cyclegan.json").write_text(json.dumps(summary, indent=1))
    rows = torch.cat(grid).float() / 255
    save_grid("docs/images/cyclegan_grid.png", rows.permute(0, 2, 3, 1).numpy(), nrow=10, scale=4)
    print("wrote docs/results/cyclegan.json and docs/images/cyclegan_grid.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", choices=["pix2pix", "cyclegan"], default="pix2pix")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--out-dir", default=None, help="default: runs/bench-translation or runs/bench-cyclegan")
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args()
    (pix2pix if args.task == "pix2pix" else cyclegan)(args)


if __name__ == "__main__":
    main()
