"""The latent family's two stages on a fixed budget: an autoencoder (vae with the given settings) trained for the
first minutes (or another autoencoder family, --family), a latent-ddpm on it for the rest, each pipeline in its own process on its own cores; every pipeline
scored by `imsynth eval` (samples and the autoencoder's round trip, the floor) under both shipped networks, as a
ratio to the first setting (the peer, measured in the same run).

    python benchmarks/latent_pipeline.py --setting "latent_dim=32 beta=0.1" --setting "latent_dim=64 beta=0.01" \\
        --minutes 15 15 --threads 1 --seed 0 --prefix runs/pipe [--latent "denoiser=mlp"] [--n 5000]

Pipelines run side by side (--threads each: give them the machine's cores between them). A run already written
under the prefix is kept and only scored, so a study can be scored again without training. Writes --json.
--only-autoencoder trains the first stage alone and scores its round trip (the floor the latent stage cannot beat):
a study of the autoencoder's settings and seeds at half the cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imsynth.data import load_dataset
from imsynth.evaluate import evaluate_run, reconstruct_in_batches
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import compare_features
from imsynth.models import load_run
from imsynth.runtime.classifier import SECOND


def train(command: list[str], threads: int, log: Path) -> None:
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with log.open("w") as out:
        subprocess.run([sys.executable, "-m", "imsynth.cli", "train", *command], env=environment, stdout=out,
                       stderr=subprocess.STDOUT, check=True)  # fmt: skip


def set_args(pairs: str) -> list[str]:
    """``"a=1 b=2"`` as ``imsynth train`` takes it: ``--set a=1 --set b=2``."""
    return [item for pair in pairs.split() for item in ("--set", pair)]


def pipeline(setting: str, args, index: int) -> dict:
    name = f"{args.prefix}-{index}-s{args.seed}"
    autoencoder, latent = Path(f"{name}-ae"), Path(f"{name}-latent")
    sets, extra = set_args(setting), set_args(args.latent)
    seed = ["--set", f"train.seed={args.seed}"]
    first, second = args.minutes
    if not (autoencoder / "model.safetensors").exists():
        train([args.family, "--data", args.data, "--out", str(autoencoder), "--minutes", str(first), *sets, *seed],
              args.threads, Path(f"{autoencoder}.log"))  # fmt: skip
    if args.only_autoencoder:
        return {"setting": setting, "runs": [str(autoencoder)], **floors(autoencoder, args.n)}
    if not (latent / "model.safetensors").exists():
        train(["latent-ddpm", "--data", args.data, "--out", str(latent), "--minutes", str(second),
               "--set", f"autoencoder={autoencoder}", *extra, *seed], args.threads, Path(f"{latent}.log"))  # fmt: skip
    report = evaluate_run(latent, n=args.n, likelihood_images=1, importance_samples=1)
    first_net, second_net = report["sample_quality"], report["sample_quality_second"]
    steps = [json.loads((run / "config.json").read_text()).get("step") for run in (autoencoder, latent)]
    return {
        "setting": setting,
        "runs": [str(autoencoder), str(latent)],
        "steps": steps,
        "fid_first": first_net["fid"],
        "fid_second": second_net["fid"],
        "floor_first": first_net["fid_floor_autoencoder"],
        "floor_second": second_net["fid_floor_autoencoder"],
        "precision": first_net.get("precision"),
        "recall": first_net.get("recall"),
    }


def floors(run: Path, n: int) -> dict:
    """The FID of the autoencoder's round trip of n test images against them, under both shipped networks."""
    model, saved = load_run(run)
    test = load_dataset(saved["data"]["name"], image_size=model.config.image_size).test_images[:n]
    round_trip = reconstruct_in_batches(model.reconstruct, test, next(model.parameters()).device)
    scores = {}
    for key, architecture in (("first", "vgg"), ("second", SECOND)):
        net, _ = load_feature_net(saved["data"]["name"], architecture=architecture)
        scores[key] = compare_features(extract_features(net, test), extract_features(net, round_trip))["fid"]
    return {"steps": [saved.get("step")], "floor_first": scores["first"], "floor_second": scores["second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--setting", action="append", required=True, help="the autoencoder's --set pairs, space-separated"
    )
    parser.add_argument("--family", default="vae", help="the autoencoder's family (vae, vae-gan, ...)")
    parser.add_argument("--latent", default="", help="the latent-ddpm's --set pairs, space-separated")
    parser.add_argument("--minutes", type=float, nargs=2, default=(15.0, 15.0), metavar=("AE", "LATENT"))
    parser.add_argument("--threads", type=int, default=1, help="threads per pipeline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--prefix", default="runs/pipe")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--json", default="docs/results/latent_pipeline.json")
    parser.add_argument("--only-autoencoder", action="store_true", help="train and score the first stage alone")
    args = parser.parse_args()

    with ThreadPoolExecutor(len(args.setting)) as pool:
        rows = list(pool.map(lambda item: pipeline(item[1], args, item[0]), enumerate(args.setting)))
    peer = rows[0]
    if args.only_autoencoder:
        print(f"the autoencoders' round trips of {args.n} test images; {args.minutes[0]:g} min, seed {args.seed}")
        for row in rows:
            print(f"{row['setting']:<34} step {row['steps'][0]:>6}  floor {row['floor_first']:6.2f} / "
                  f"{row['floor_second']:.2f}  ratio {row['floor_first'] / peer['floor_first']:.2f}x")  # fmt: skip
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")
        return
    print(f"{args.n} samples against {args.n} test images; {args.minutes[0]:g} + {args.minutes[1]:g} min, "
          f"{args.threads} thread(s) per pipeline, seed {args.seed}; ratio to the first setting")  # fmt: skip
    print(f"{'autoencoder settings':<34} {'steps':>12} {'FID first / second':>20} {'floor':>16} {'ratio':>14}")
    for row in rows:
        ratio = f"{row['fid_first'] / peer['fid_first']:.2f}x / {row['fid_second'] / peer['fid_second']:.2f}x"
        print(f"{row['setting']:<34} {'/'.join(map(str, row['steps'])):>12} "
              f"{row['fid_first']:>9.2f} / {row['fid_second']:<8.2f} "
              f"{row['floor_first']:>6.2f} / {row['floor_second']:<6.2f} {ratio:>14}")  # fmt: skip
    Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
