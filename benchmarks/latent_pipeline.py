"""The latent family's two stages on a fixed budget: an autoencoder (vae with the given settings) trained for the
first minutes (or another autoencoder family, --family), a latent-ddpm on it for the rest, each pipeline in its own process on its own cores; every pipeline
scored by `imsynth eval` (samples and the autoencoder's round trip, the floor) under both shipped networks, as a
ratio to the first setting (the peer, measured in the same run).

    python benchmarks/latent_pipeline.py --setting "latent_dim=32 beta=0.1" --setting "latent_dim=64 beta=0.01" \\
        --minutes 15 15 --threads 1 --seed 0 --prefix runs/pipe [--latent "denoiser=mlp"] [--n 5000]

Pipelines run side by side (--threads each: give them the machine's cores between them). A run already written
under the prefix is kept and only scored, so a study can be scored again without training. Writes --json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imsynth.evaluate import evaluate_run


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
    args = parser.parse_args()

    with ThreadPoolExecutor(len(args.setting)) as pool:
        rows = list(pool.map(lambda item: pipeline(item[1], args, item[0]), enumerate(args.setting)))
    peer = rows[0]
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
