"""Does torch.compile pay back its compile time within a training run on this CPU? (issue 27, item 6)

    python benchmarks/compile.py [--models ddpm,vae,dcgan] [--steps 200,400] [--threads 2]

For each model (its defaults, Fashion-MNIST), trains the same run twice from the same seed: eager, and with every
top-level submodule compiled (``nn.Module.compile``: the weights keep their names, so checkpoints are unchanged).
Each is timed at two step counts from a fresh process state; the difference gives the steady step time, the
rest is start-up (for the compiled run, mostly compilation). Prints the steady speed-up and the number of
minutes after which the compiled run is ahead: the break-even that a training budget has to exceed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from imsynth.data import load_dataset
from imsynth.models import build_model, config_for_dataset, get_entry
from imsynth.train import train


def _timed(name: str, data, steps: int, compiled: bool) -> float:
    entry = get_entry(name)
    torch.manual_seed(0)
    model = build_model(name, config_for_dataset(entry.default_config(), data))
    if compiled:
        for child in model.children():
            child.compile()
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=steps, sample_every=10**9, checkpoint_every=10**9, minutes=None
    )
    torch.compiler.reset()  # each timing pays its own compilation, as a new run would
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        train(name, data, Path(folder) / "run", model=model, train_config=train_config, quiet=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ddpm,vae,dcgan")
    parser.add_argument("--steps", default="200,400", help="two step counts: their difference is the steady part")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    short, long = (int(part) for part in args.steps.split(","))
    data = load_dataset("fashion-mnist")
    report = {}
    for name in args.models.split(","):
        row = {}
        for compiled in (False, True):
            first, second = _timed(name, data, short, compiled), _timed(name, data, long, compiled)
            step = (second - first) / (long - short)
            row["compiled" if compiled else "eager"] = {
                "step_s": round(step, 4),
                "startup_s": round(first - short * step, 1),
            }
        eager, fast = row["eager"], row["compiled"]
        row["steady_speedup"] = round(eager["step_s"] / fast["step_s"], 3)
        gain = eager["step_s"] - fast["step_s"]
        extra = fast["startup_s"] - eager["startup_s"]
        row["break_even_min"] = round(extra / gain * eager["step_s"] / 60, 1) if gain > 0 else None
        report[name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps({"threads": args.threads, "steps": [short, long], **report}, indent=1))


if __name__ == "__main__":
    main()
