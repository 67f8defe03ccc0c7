"""What users do with a text run (``text-vae``, ``text-lm``): sample sentences, reconstruct one, walk between two,
and measure the model (NLL, perplexity, KL, mutual information, active units)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import detokenize
from ..data.text import BOS, EOS, UNK
from ..errors import InputError
from ..image import atomic_path, check_output
from ..models import SentenceEncoder, TextGenerator, load_run
from ..models.vae import interpolate_latents


def require_text_model(model, run, *, encoder: bool = False) -> None:
    """A clear error for an image run given to a text command (or, with ``encoder``, a text run with no code)."""
    if not isinstance(model, TextGenerator):
        raise InputError(f"{run}: holds the image model {model.registered_name!r}; this command needs a text run")
    if encoder and not isinstance(model, SentenceEncoder):
        raise InputError(f"{run}: model {model.registered_name!r} has no sentence code; this command needs text-vae")


def load_text_run(run: str | Path, *, device: str = "cpu", encoder: bool = False):
    """The model of a text run, checked by ``require_text_model``."""
    model, saved = load_run(run, device=device)
    require_text_model(model, run, encoder=encoder)
    return model, saved


def sample_sentences(
    model, count: int, *, seed: int = 0, temperature: float = 1.0, top_p: float = 1.0, greedy: bool = False
) -> list[str]:
    if count < 1:
        raise InputError(f"-n must be >= 1, got {count}")
    generator = torch.Generator().manual_seed(seed)
    rows = model.sample_tokens(count, temperature=temperature, top_p=top_p, greedy=greedy, generator=generator)
    return [detokenize(model.tokenizer, ids) for ids in rows]


def write_lines(out: str | Path, lines: list[str]) -> Path:
    """Sentences, one per line, into a .txt file (atomically)."""
    out = check_output(out, suffixes=(".txt",))
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def sentence_tokens(model, sentence: str) -> torch.Tensor:
    """One sentence -> a token row as in training (cut to the run's length); refuses one the run cannot read."""
    ids = model.tokenizer.encode(sentence, add_special_tokens=False).ids
    if not ids:
        raise InputError(f"sentence {sentence!r} holds no tokens")
    if all(i == UNK for i in ids):
        raise InputError(f"every word of {sentence!r} is unknown to this run's vocabulary")
    ids = ids[: model.config.max_length - 2]
    row = torch.zeros(1, model.config.max_length, dtype=torch.long)
    row[0, : len(ids) + 2] = torch.tensor([BOS, *ids, EOS])
    return row


@torch.no_grad()
def sentence_code(model, sentence: str) -> torch.Tensor:
    device = next(model.parameters()).device
    mean, _ = model.encode_tokens(sentence_tokens(model, sentence).to(device))
    return mean.cpu()


def reconstruct(model, sentence: str, *, samples: int = 0, seed: int = 0) -> dict:
    """The sentence as the run reads it (unknown words shown as <unk>), its greedy decoding from the posterior
    mean, and ``samples`` decodings of codes drawn from the posterior."""
    row = sentence_tokens(model, sentence)
    device = next(model.parameters()).device
    with torch.no_grad():
        mean, log_var = model.encode_tokens(row.to(device))
    mean, log_var = mean.cpu(), log_var.cpu()
    (decoded,) = model.sample_tokens(1, z=mean, greedy=True)
    report = {
        "input": sentence,
        "as_read": detokenize(model.tokenizer, row[0].tolist()),
        "reconstruction": detokenize(model.tokenizer, decoded),
    }
    if samples:
        generator = torch.Generator().manual_seed(seed)
        codes = mean + (0.5 * log_var).exp() * torch.randn(samples, mean.shape[1], generator=generator)
        report["samples"] = [
            detokenize(model.tokenizer, ids) for ids in model.sample_tokens(samples, z=codes, greedy=True)
        ]
    return report


def homotopy(
    model, start: str | None, end: str | None, *, steps: int = 8, mode: str = "lerp", seed: int = 0
) -> list[str]:
    """Greedy decodings along the line (or great circle) between two sentences' codes (Bowman et al.'s
    homotopies); a missing end is a code drawn from the prior."""
    if steps < 2:
        raise InputError(f"--steps must be >= 2, got {steps}")
    generator = torch.Generator().manual_seed(seed)
    ends = [
        sentence_code(model, text)[0] if text else torch.randn(model.code_dim, generator=generator)
        for text in (start, end)
    ]
    rows = model.sample_tokens(steps, z=interpolate_latents(*ends, steps, mode=mode), greedy=True)
    return [detokenize(model.tokenizer, ids) for ids in rows]


def reconstruct_run(run, sentence: str, *, samples: int = 0, seed: int = 0, device: str = "auto") -> dict:
    """``reconstruct`` for a text-vae run folder."""
    model, _ = load_text_run(run, device=device, encoder=True)
    return reconstruct(model, sentence, samples=samples, seed=seed)
