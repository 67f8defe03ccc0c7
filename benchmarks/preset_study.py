"""A budget preset's study: one model trained for the same wall-clock minutes under each setting and seed, the runs
side by side on their own cores, each scored by `imsynth eval` (5,000 samples against 5,000 test images under both
shipped networks), as a ratio to the first setting (the peer, usually the defaults, measured in the same study).

    python benchmarks/preset_study.py ddpm --setting "" --setting "schedule=flow prediction=flow" \\
        --minutes 30 --threads 1 --parallel 2 --seeds 0 1 --prefix runs/study-ddpm [--n 5000]

--setting takes the model's --set pairs, space-separated ("" = the defaults). A run already written under the
prefix is kept and only scored (its score is kept too), so a study can grow by rounds (a second seed for the setting that won the first).
Training runs --parallel at a time with --threads each (give them the machine's cores between them); scoring
starts when every run has trained, so it never shares the machine with training. Writes --json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path

from latent_pipeline import set_args, train

from imsynth.evaluate import evaluate_run


def run_path(args, setting: str, seed: int) -> Path:
    # named by the setting, not its position, so later rounds with other --setting lists find earlier runs
    tag = hashlib.sha1(setting.encode()).hexdigest()[:6]
    return Path(f"{args.prefix}-{tag}-s{seed}")


def train_one(args, setting: str, seed: int) -> None:
    run = run_path(args, setting, seed)
    if (run / "model.safetensors").exists():
        return
    command = [args.model, "--data", args.data, "--out", str(run), "--minutes", str(args.minutes)]
    train([*command, *set_args(setting), "--set", f"train.seed={seed}"], args.threads, Path(f"{run}.log"))


def score(args, setting: str, seed: int) -> dict:
    run = run_path(args, setting, seed)
    kept = run / f"study-score-n{args.n}.json"  # a later round scores only its new runs
    if kept.exists():
        return json.loads(kept.read_text())
    report = evaluate_run(run, n=args.n, likelihood_images=1, importance_samples=1, disentanglement=False)
    first, second = report["sample_quality"], report["sample_quality_second"]
    row = {
        "setting": setting or "defaults",
        "seed": seed,
        "run": str(run),
        "steps": json.loads((run / "config.json").read_text()).get("step"),
        "fid_first": first["fid"],
        "fid_second": second["fid"],
        "precision": first.get("precision"),
        "recall": first.get("recall"),
    }
    kept.write_text(json.dumps(row) + "\n")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--setting", action="append", required=True, help="--set pairs, space-separated")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--parallel", type=int, default=2, help="runs trained at once")
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--prefix", default="runs/study")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--json", default="docs/results/preset_study.json")
    args = parser.parse_args()

    jobs = list(product(args.setting, args.seeds))
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda job: train_one(args, *job), jobs))
    rows = [score(args, *job) for job in jobs]

    print(f"{args.model}: {args.minutes:g} min per run, {args.threads} thread(s), {args.parallel} at once; "
          f"{args.n} samples against {args.n} test images; ratio to the first setting's mean")  # fmt: skip
    means = {}
    for setting in args.setting:
        mine = [row for row in rows if row["setting"] == (setting or "defaults")]
        means[setting] = tuple(statistics.mean(row[key] for row in mine) for key in ("fid_first", "fid_second"))
    peer = means[args.setting[0]]
    print(f"{'setting':<58} {'seed':>4} {'steps':>6} {'FID first / second':>20}")
    for row in rows:
        print(f"{row['setting']:<58} {row['seed']:>4} {row['steps']:>6} "
              f"{row['fid_first']:>9.2f} / {row['fid_second']:<8.2f}")  # fmt: skip
    for setting, (first, second) in means.items():
        print(f"mean {setting or 'defaults':<53} {first:>9.2f} / {second:<8.2f} "
              f"{first / peer[0]:.2f}x / {second / peer[1]:.2f}x")  # fmt: skip
    Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
