"""Word against byte-level BPE tokenizers for the text models, in bits per character, on fortunes and on a
hard-wrapped prose file (issue 28, item 5).

    apt-get install fortunes debian-faq
    python benchmarks/text_tokenizers.py [--minutes 8] [--prose /usr/share/doc/debian/FAQ/debian-faq.en.txt.gz]

For each corpus and tokenizer, trains `text-lm` (the sentence VAE's decoder alone: its NLL is exact) for the same
wall time, two runs side by side on one thread each (runs already trained are reused), then reports from
`imsynth eval` the test split's bits per character (unknown words spelled out under a character unigram model,
so the word tokenizer cannot gain by giving up on rare words) and the share of unknown tokens, and from 500
top-p 0.9 samples the share that end a sentence (. ! ? and closing quotes) and the share of `<unk>` among the
sampled tokens. The prose file is read as a user's `text:PATH` with the default `unit` (auto), which should
find it wrapped and take sentences. Writes docs/results/text_tokenizers.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from imsynth.data.text import UNK, detokenize
from imsynth.evaluate import evaluate_run
from imsynth.models import load_run

FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
ENDS_A_SENTENCE = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
OPTIONS = "max_tokens=64"  # room for a whole sentence with either tokenizer: few examples are cut


def prose_file(source: Path, out: Path) -> Path:
    """The prose as a plain .txt (Debian ships its documents gzipped)."""
    if source.suffix != ".gz":
        return source
    target = out / source.name.removesuffix(".gz")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(source.read_bytes()))
    return target


def sample_measures(run: Path, count: int = 500) -> dict:
    model, _ = load_run(run, device="cpu")
    generator = torch.Generator().manual_seed(0)
    rows = model.sample_tokens(count, top_p=0.9, generator=generator)
    texts = [detokenize(model.tokenizer, ids) for ids in rows]
    tokens = sum(len(ids) for ids in rows)
    return {
        "whole_sentences": sum(bool(ENDS_A_SENTENCE.search(t)) for t in texts) / count,
        "unk_in_samples": sum(ids.count(UNK) for ids in rows) / max(tokens, 1),
        "samples": texts[:6],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=8)
    parser.add_argument("--prose", type=Path, default=FAQ)
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-tokenizers"))
    parser.add_argument("--sentences", type=int, default=1000, help="test examples evaluated")
    args = parser.parse_args()
    prose = prose_file(args.prose, args.out_dir)
    corpora = {"fortunes": f"fortunes?{OPTIONS}", "prose": f"text:{prose}?{OPTIONS}"}
    runs = {
        f"{corpus}-{kind}": (f"{spec}&tokenizer={kind}", args.out_dir / f"{corpus}-{kind}")
        for corpus, spec in corpora.items()
        for kind in ("word", "bpe")
    }
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    pending = [(name, spec, out) for name, (spec, out) in runs.items() if not (out / "model.safetensors").exists()]
    for pair in (pending[i : i + 2] for i in range(0, len(pending), 2)):  # two at a time: one core each
        jobs = [
            subprocess.Popen(
                [sys.executable, "-m", "imsynth.cli", "train", "text-lm", "--data", spec, "--out", str(out)]
                + ["--minutes", str(args.minutes), "--quiet"],
                env=environment,
            )
            for _, spec, out in pair
        ]
        if any(job.wait() for job in jobs):
            raise SystemExit("a training run failed")
    results = {"minutes": args.minutes, "prose": str(args.prose), "options": OPTIONS, "runs": {}}
    for name, (_, out) in runs.items():
        report = evaluate_run(out, importance_samples=1, likelihood_images=args.sentences)
        report.update(sample_measures(out))
        results["runs"][name] = report
        print(
            f"{name:<15} step {report['step']:>6}  {report['bits_per_char']:.3f} bits/char  "
            f"unknown {100 * report['unknown_tokens']:.2f}% of test tokens  whole sentences "
            f"{100 * report['whole_sentences']:.0f}%  <unk> {100 * report['unk_in_samples']:.2f}% of sampled tokens",
            flush=True,
        )
    for corpus in corpora:
        word, bpe = results["runs"][f"{corpus}-word"], results["runs"][f"{corpus}-bpe"]
        print(f"{corpus}: bpe / word bits per char = {bpe['bits_per_char'] / word['bits_per_char']:.3f}")
    path = Path("docs/results/text_tokenizers.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
