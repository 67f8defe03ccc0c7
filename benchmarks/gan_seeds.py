"""Train registered GAN defaults over several seeds and report divergence, rollbacks and FID.

    python benchmarks/gan_seeds.py --models dcgan wgan-gp sngan --seeds 0 1 2 3 4 --steps 5000 --parallel 5

Each run is a separate ``imsynth train`` process (``--device auto``: CUDA when present); the table says,
per run, whether it finished without the guard giving up, how many rollbacks the guard made, the best and
the last in-domain FID (fashion-mnist feature network, 1,000 samples against 1,000 test images).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path


def one_run(model: str, seed: int, args) -> dict:
    out = Path(args.out) / f"{model}-seed{seed}"
    command = [
        sys.executable,
        "-m",
        "imsynth.cli",
        "train",
        model,
        "--data",
        args.data,
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--steps",
        str(args.steps),
        "--quiet",
        "--device",
        args.device,
    ]
    for assignment in args.set:
        command += ["--set", assignment]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    rows = []
    metrics = out / "metrics.jsonl"
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    fids = [row["fid"] for row in rows if "fid" in row]
    rollbacks = [row["message"] for row in rows if row.get("event") == "rollback"]
    return {
        "model": model,
        "seed": seed,
        "exit": done.returncode,
        "seconds": round(seconds, 1),
        "rollbacks": len(rollbacks),
        "best_fid": min(fids) if fids else None,
        "last_fid": fids[-1] if fids else None,
        "error": done.stderr.strip().splitlines()[-1:] if done.returncode else [],
        "steps": max((row.get("step", 0) for row in rows), default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["dcgan", "wgan-gp", "sngan"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", default="runs/gan-seeds")
    parser.add_argument("--json", help="write the rows here too")
    args = parser.parse_args()
    jobs = [(model, seed) for model in args.models for seed in args.seeds]
    # rows are printed as runs finish, so a run cut short by a time limit loses only the unfinished ones
    print(
        f"{'model':<10} {'seed':>4} {'ok':>3} {'steps':>6} {'rollbacks':>9} {'best FID':>9} {'last FID':>9} {'s':>7}",
        flush=True,
    )
    rows = []
    with ThreadPoolExecutor(args.parallel) as pool:
        for row in as_completed([pool.submit(one_run, *job, args) for job in jobs]):
            row = row.result()
            rows.append(row)
            ok = "yes" if row["exit"] == 0 else "NO"
            best = f"{row['best_fid']:.2f}" if row["best_fid"] is not None else "-"
            last = f"{row['last_fid']:.2f}" if row["last_fid"] is not None else "-"
            print(
                f"{row['model']:<10} {row['seed']:>4} {ok:>3} {row['steps']:>6} {row['rollbacks']:>9} {best:>9} "
                f"{last:>9} {row['seconds']:>7}  {' '.join(row['error'])}",
                flush=True,
            )
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
