"""Sentence VAE against its language-model baseline on the fortunes corpus, with the collapse remedies on and off.

    python benchmarks/text_vae.py --minutes 30 [--runs vae,lm,vae-off,vae-again,vae-no-wd] [--k 500] [--sentences 250]

Trains each run for the same wall time (one thread each, side by side; runs already trained are reused), then
prints one JSON line per run from `imsynth eval` (test split, importance-weighted NLL with k samples, perplexity,
KL, mutual information, active units), and writes docs/results/text_vae.json with greedy and top-p samples and
homotopies between test sentences.

- vae: text-vae defaults (cyclical KL annealing, free bits 0.125 nats x 32 dimensions, word dropout 0.25)
- vae-again: the same configuration again (named vae-wd in the first recorded run): the spread of a repeat
- vae-no-wd: the defaults without word dropout
- vae-off: every remedy off (no annealing, no free bits, no word dropout): expected to collapse (KL < 0.5)
- lm: text-lm, the VAE's decoder alone
Targets (issue 15): the VAE's IW-NLL no worse than the LM's, KL >= 3, MI >= 1, >= 50% active units; vae-off KL < 0.5.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from imsynth.apps.text import homotopy, sample_sentences
from imsynth.evaluate import evaluate_run
from imsynth.models import SentenceEncoder, load_run

DATA = "fortunes"
RUNS = {
    "vae": ["text-vae"],
    "vae-again": ["text-vae"],
    "vae-no-wd": ["text-vae", "--set", "word_dropout=0"],
    "vae-off": ["text-vae", "--set", "kl_anneal=none", "--set", "free_bits=0", "--set", "word_dropout=0"],
    "lm": ["text-lm"],
}
PAIRS = [
    ("you will meet a tall, dark stranger.", "the computer is down again."),
    ("never trust a man who smiles.", "a fool and his money are soon parted."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--runs", default="vae,lm,vae-off")
    parser.add_argument("--out-dir", default="runs/bench-text")
    parser.add_argument("--k", type=int, default=500)
    parser.add_argument("--sentences", type=int, default=250, help="test sentences evaluated (the first N of 737)")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    names = args.runs.split(",")
    out = Path(args.out_dir)
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", "imsynth.cli", "train", *RUNS[name][:1], "--data", DATA, "--out", str(out / name)]
            + ["--minutes", str(args.minutes), "--quiet", *RUNS[name][1:]],
            env=environment,
        )
        for name in names
        if not (out / name / "model.safetensors").exists()
    ]
    if any(job.wait() for job in jobs):
        raise SystemExit("a training run failed")
    if args.train_only:
        return
    results_path = Path("docs/results/text_vae.json")
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in names:
        run = out / name
        report = evaluate_run(run, importance_samples=args.k, likelihood_images=args.sentences)
        model, _ = load_run(run)
        torch.manual_seed(0)
        report["samples_greedy"] = sample_sentences(model, 5, seed=1, greedy=True)
        report["samples_top_p_0.9"] = sample_sentences(model, 8, seed=2, top_p=0.9)
        if isinstance(model, SentenceEncoder):
            report["homotopies"] = [homotopy(model, a, b, steps=6) for a, b in PAIRS]
        results[name] = report
        print(json.dumps(report), flush=True)
    if "vae" in results and "lm" in results:
        vae, lm = results["vae"], results["lm"]
        results["summary"] = {
            "nll_vae_minus_lm": round(vae["nll"] - lm["nll"], 3),
            "kl": round(vae["kl"], 3),
            "mutual_information": round(vae["mutual_information"], 3),
            "active_fraction": vae["active_units"] / vae["latent_dim"],
            "target_met": vae["nll"] <= lm["nll"]
            and vae["kl"] >= 3
            and vae["mutual_information"] >= 1
            and vae["active_units"] >= vae["latent_dim"] / 2,
            "collapse_shown": results.get("vae-off", {}).get("kl", 1e9) < 0.5,
        }
        print(json.dumps(results["summary"]), flush=True)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=1))
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
