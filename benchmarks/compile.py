"""Does torch.compile pay back its compile time within a training run on this CPU? (issue 27, item 6)

    python benchmarks/compile.py [--models vae,dcgan,ddpm] [--steps 200] [--threads 2]

For each model (its defaults, Fashion-MNIST), trains the same run twice from the same seed: eager, and with every
top-level submodule compiled (``train.compile``: ``nn.Module.compile``, so the weights keep their names). The
steady step time is read from the run's own clock over its second half; the rest is start-up (for the compiled
run, mostly compilation, from an empty compile cache as on a user's first run). Prints the steady speed-up and
the minutes after which the compiled run is ahead: the break-even that a training budget has to exceed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch

from imsynth.data import load_dataset
from imsynth.models import get_entry
from imsynth.runtime.runs import read_metrics
from imsynth.train import train


def _timed(name: str, data, steps: int, compiled: bool) -> dict:
    """One run of ``steps`` steps; the steady step time is the slope of the logged clock over the second half of
    the run, the start-up what the clock had spent beyond that (for a compiled run, mostly compilation)."""
    entry = get_entry(name)
    train_config = dataclasses.replace(
        entry.default_train_config(),
        steps=steps,
        log_every=10,
        sample_every=10**9,
        checkpoint_every=10**9,
        minutes=None,
        compile=compiled,  # the option itself, as a user sets it
    )
    torch.compiler.reset()
    with tempfile.TemporaryDirectory() as folder:
        # a fresh compile cache: the first run a user makes pays the whole compilation (later ones reuse it)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(folder) / "inductor")
        train(name, data, Path(folder) / "run", train_config=train_config, quiet=True)
        rows = [row for row in read_metrics(Path(folder) / "run") if "time" in row]
    half = [row for row in rows if row["step"] >= steps // 2]
    step = (half[-1]["time"] - half[0]["time"]) / (half[-1]["step"] - half[0]["step"])
    return {"step_s": round(step, 4), "startup_s": round(half[-1]["time"] - half[-1]["step"] * step, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="vae,dcgan,ddpm")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist")
    report = {}
    for name in args.models.split(","):
        row = {"eager": _timed(name, data, args.steps, False), "compiled": _timed(name, data, args.steps, True)}
        eager, fast = row["eager"], row["compiled"]
        row["steady_speedup"] = round(eager["step_s"] / fast["step_s"], 3)
        gain = eager["step_s"] - fast["step_s"]
        extra = fast["startup_s"] - eager["startup_s"]
        row["break_even_min"] = round(extra / gain * eager["step_s"] / 60, 1) if gain > 0 else None
        report[name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps({"threads": args.threads, "steps": args.steps, **report}, indent=1))


if __name__ == "__main__":
    main()
