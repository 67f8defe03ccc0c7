"""The sentence VAE started from its language model, against that language model at equal training steps
(issue 28, item 4: the remedy of a decoder initialised from a trained LM).

    python benchmarks/text_vae_init.py --steps 1000 [--data fortunes] [--out-dir runs/bench-text-init] [--k 500]
                                       [--seed 0]

Trains `text-lm` for --steps (the snapshot "lm-half"), then, side by side on one thread each, continues that LM
to twice --steps ("lm") and trains a `text-vae` for --steps from the snapshot (`imsynth train text-vae --init
lm-half`: its decoder starts as the LM, the code's inputs at zero, its encoder afresh, with the settings text-vae
declares for such a start: no word dropout or KL annealing, lr 2e-3). The VAE's second half restarts its optimiser
at a higher step size, so the LM gets the same chance: "lm-restart" is lm-half fine-tuned for --steps with those
train settings (the `train.*` ones text-vae declares; `imsynth train text-lm --init lm-half --set train.lr=2e-3`).
All have then made the same number of optimisation steps. Scores each with `imsynth eval` on the first --sentences
test entries: the LMs' exact NLL, the VAE's importance-weighted NLL with k samples (nats per entry), KL, mutual
information, active units. Target: the VAE's IW-NLL <= the better LM's, with KL >= 3 nats and >= 50% active units.
Writes docs/results/text_vae_init.json (one key per --data, and per --seed other than 0). --seed seeds every
training of the comparison, the LM's first half included, so a second seed is a second draw of the whole protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from imsynth.apps.text import sample_sentences
from imsynth.evaluate import evaluate_run
from imsynth.models import get_entry, load_run


def _train(words: list[str], environment: dict, seed: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "imsynth.cli", "train", *words, "--seed", str(seed), "--quiet"]
    return subprocess.Popen(command, env=environment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--data", default="fortunes")
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-text-init"))
    parser.add_argument("--k", type=int, default=500)
    parser.add_argument("--sentences", type=int, default=250, help="test entries evaluated (the first N)")
    parser.add_argument("--results", type=Path, default=Path("docs/results/text_vae_init.json"))
    parser.add_argument("--seed", type=int, default=0, help="every training's seed")
    args = parser.parse_args()
    out, environment = args.out_dir, {**os.environ, "OMP_NUM_THREADS": "1"}
    half, lm, restart, vae = out / "lm-half", out / "lm", out / "lm-restart", out / "vae-from-lm"
    if not (half / "model.safetensors").exists():
        words = ["text-lm", "--data", args.data, "--out", str(half), "--steps", str(args.steps)]
        if _train(words, environment, args.seed).wait():
            raise SystemExit("the language model's first half failed")
    trained = out / "trained.json"
    if not trained.exists():
        for run in (lm, restart, vae):
            shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(half, lm)  # the same run, continued exactly (its optimiser and data order too)
        start = ["--data", args.data, "--steps", str(args.steps), "--init", str(half)]
        jobs = [
            _train(["text-lm", "--out", str(lm), "--resume", "--steps", str(2 * args.steps)], environment, args.seed),
            _train(["text-vae", "--out", str(vae), *start], environment, args.seed),
        ]
        if any(job.wait() for job in jobs):
            raise SystemExit("a training run failed")
        # the LM restarted with the training settings the VAE's start from it declares (its step size)
        restart_settings = [
            f"--set={v}" for v in get_entry("text-vae").model_class.starts_from["text-lm"] if v.startswith("train.")
        ]
        if _train(["text-lm", "--out", str(restart), *start, *restart_settings], environment, args.seed).wait():
            raise SystemExit("the restarted language model failed")
        trained.write_text(json.dumps({"steps": args.steps, "data": args.data, "seed": args.seed}))
    report = {"data": args.data, "seed": args.seed, "steps_each": 2 * args.steps, "k": args.k}
    report["sentences"] = args.sentences
    for name, run in (("lm", lm), ("lm_restart", restart), ("vae_from_lm", vae)):
        scores = evaluate_run(run, importance_samples=args.k, likelihood_images=args.sentences)
        scores["samples_top_p_0.9"] = sample_sentences(load_run(run)[0], 5, seed=2, top_p=0.9)
        report[name] = scores
        print(json.dumps({name: scores}), flush=True)
    lm_nll, vae_scores = min(report["lm"]["nll"], report["lm_restart"]["nll"]), report["vae_from_lm"]
    report["summary"] = {
        "nll_vae_minus_better_lm": round(vae_scores["nll"] - lm_nll, 3),
        "kl": round(vae_scores["kl"], 3),
        "active_fraction": vae_scores["active_units"] / vae_scores["latent_dim"],
        "target_met": vae_scores["nll"] <= lm_nll
        and vae_scores["kl"] >= 3
        and vae_scores["active_units"] >= vae_scores["latent_dim"] / 2,
    }
    print(json.dumps(report["summary"]), flush=True)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    results[args.data if args.seed == 0 else f"{args.data} seed {args.seed}"] = report
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
