"""Text datasets for the sentence VAE, as ``TextDataset``s the engine batches like images.

Specs (options after ``?``, joined with ``&``):

- ``text:PATH``: a UTF-8 text file, one example per non-empty line, or a folder of ``*.txt`` files.
- ``fortunes``: the Debian package ``fortunes`` (about 14,700 entries, /usr/share/games/fortunes; the drawings in
  ``art`` and ``ascii-art`` left out), one example per entry with its lines joined.
- Options: ``vocab=N`` (vocabulary cap, special tokens included; default 8000, at least 4), ``tokenizer=word``
  (lower-cased words and punctuation, Hugging Face ``tokenizers`` WordLevel; the default) or ``tokenizer=bpe``
  (byte-level BPE: no unknown tokens), ``max_tokens=N`` (the length cap, default 40: longer examples are cut to
  it, and counted), e.g. ``fortunes?vocab=4000&max_tokens=32``.

Examples are split 90/5/5 into train, validation and test by a fixed seed; the tokenizer is trained on the train
split only and saved in the run (``tokenizer.json``), which later loads of the run reuse. Tokens are int32 rows
``[BOS] w1 .. wn [EOS] [PAD] ..`` of ``max_tokens + 2`` ids.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ..errors import CheckpointError, DataError, InputError
from .base import DatasetSpec, ImageDataset, register

SPECIALS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
PAD, UNK, BOS, EOS = range(4)
FORTUNES = Path("/usr/share/games/fortunes")
DRAWINGS = {"art", "ascii-art"}
DEFAULTS = {"vocab": 8000, "tokenizer": "word", "max_tokens": 40}
SPLIT_SEED = 0


@dataclass
class TextDataset(ImageDataset):
    """Token ids (int32, N x (max_tokens + 2)) in ``train_images``/``test_images`` so the engine's batching,
    shuffling, resume and sharding work unchanged; ``tokenizer`` turns ids back into text."""

    tokenizer: Tokenizer | None = None
    kind: str = "text"

    row_dtype: ClassVar[torch.dtype] = torch.int32
    row_axes: ClassVar[int] = 2
    rows_are: ClassVar[str] = "tokens must be int32 N x L"

    @property
    def channels(self) -> int:
        return 0

    @property
    def image_size(self) -> int:
        """The sequence length (``max_tokens`` + 2), where image datasets give their side."""
        return int(self.train_images.shape[1])

    def to_batch(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.long()


def load_tokenizer(path: Path) -> Tokenizer:
    """A run's saved tokenizer (JSON, never pickled)."""
    try:
        return Tokenizer.from_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except Exception as error:  # the tokenizers library raises its own untyped errors for a damaged file
        raise CheckpointError(f"{path}: damaged tokenizer ({str(error)[:80]})") from None


def build_tokenizer(lines: list[str], *, kind: str, vocab: int) -> Tokenizer:
    if kind == "word":
        tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(vocab_size=vocab, special_tokens=list(SPECIALS), show_progress=False)
    else:
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def detokenize(tokenizer: Tokenizer, ids: list[int]) -> str:
    """Ids (specials dropped) -> readable text: the word tokenizer's spaces before punctuation removed."""
    text = tokenizer.decode([i for i in ids if i > EOS or i == UNK], skip_special_tokens=False)
    if tokenizer.decoder is None:  # word level: tokens joined by spaces
        text = re.sub(r"(\w) ' (\w)", r"\1'\2", text)
        text = re.sub(r" ([.,!?;:%)\]}'])", r"\1", text)
        text = re.sub(r"([(\[{$]) ", r"\1", text)
        text = text.replace("[UNK]", "<unk>")
    return text.strip()


def encode_lines(tokenizer: Tokenizer, lines: list[str], max_tokens: int) -> tuple[torch.Tensor, int]:
    """Rows of ``[BOS] ids [EOS]`` padded to ``max_tokens + 2``; and how many lines were cut to the cap."""
    rows = np.zeros((len(lines), max_tokens + 2), dtype=np.int32)
    cut = 0
    for row, encoding in zip(rows, tokenizer.encode_batch(lines, add_special_tokens=False), strict=True):
        ids = encoding.ids
        if len(ids) > max_tokens:
            ids, cut = ids[:max_tokens], cut + 1
        row[0], row[1 : len(ids) + 1], row[len(ids) + 1] = BOS, ids, EOS
    return torch.from_numpy(rows), cut


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DataError(f"{path}: a binary file, not UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def _lines_of(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{path}: a folder with no *.txt files")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or folder")
    lines = [" ".join(line.split()) for file in files for line in _read_text(file).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise DataError(f"{path}: no text (empty, or only blank lines)")
    return lines


def fortune_entries() -> list[str]:
    entries = []
    for file in sorted(FORTUNES.iterdir()):
        if file.suffix or file.name in DRAWINGS or not file.is_file() or file.is_symlink():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        entries += [" ".join(entry.split()) for entry in re.split(r"^%\s*$", text, flags=re.M)]
    return [entry for entry in entries if entry]


def parse_options(spec: str, options: str) -> dict:
    values = dict(DEFAULTS)
    for key, value in parse_qsl(options, keep_blank_values=True):
        if key not in DEFAULTS:
            raise InputError(f"{spec}: unknown text option {key!r}; valid: {', '.join(DEFAULTS)}")
        values[key] = value
    if values["tokenizer"] not in ("word", "bpe"):
        raise InputError(f"{spec}: tokenizer must be word or bpe, got {values['tokenizer']!r}")
    for key in ("vocab", "max_tokens"):
        try:
            values[key] = int(values[key])
        except ValueError:
            raise InputError(f"{spec}: {key} must be an integer, got {values[key]!r}") from None
    if values["vocab"] < 4:
        raise InputError(
            f"{spec}: vocab must be at least 4 (the special tokens {', '.join(SPECIALS)}), got {values['vocab']}"
        )
    if values["max_tokens"] < 1:
        raise InputError(f"{spec}: max_tokens must be at least 1, got {values['max_tokens']}")
    return values


def text_dataset(
    name: str, lines: list[str], options: str, *, limit: int | None = None, tokenizer: Tokenizer | None = None
) -> TextDataset:
    """Split, tokenise (training the tokenizer on the train split unless one is given) and encode ``lines``."""
    values = parse_options(name, options)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(lines))
    n_held = max(1, len(lines) // 20) if len(lines) >= 3 else 0
    test, validation, train = order[:n_held], order[n_held : 2 * n_held], order[2 * n_held :]
    if len(lines) < 3:
        test = validation = train = order  # too few lines to hold any out: every split is the whole text
    splits = {
        key: [lines[i] for i in np.sort(index)]
        for key, index in (("train", train), ("validation", validation), ("test", test))
    }
    if limit is not None:
        splits = {key: value[:limit] for key, value in splits.items()}
    if tokenizer is None:
        tokenizer = build_tokenizer(splits["train"], kind=values["tokenizer"], vocab=values["vocab"])
    encoded = {key: encode_lines(tokenizer, value, values["max_tokens"]) for key, value in splits.items()}
    cut = sum(count for _, count in encoded.values())
    if cut:
        print(
            f"imsynth: {name}: {cut} of {len(lines)} examples cut to max_tokens={values['max_tokens']}",
            file=sys.stderr,
        )
    return TextDataset(
        name,
        encoded["train"][0],
        encoded["test"][0],
        tokenizer=tokenizer,
        extra={
            "validation": encoded["validation"][0],
            "truncated": cut,
            "vocab_size": tokenizer.get_vocab_size(),
            "text_options": values,
        },
    )


def load_text(argument: str, *, image_size=None, limit: int | None = None, tokenizer=None) -> TextDataset:
    path, _, options = argument.partition("?")
    parse_options(f"text:{argument}", options)  # a bad option is named before the file is read
    return text_dataset(
        f"text:{argument}", _lines_of(Path(path).expanduser()), options, limit=limit, tokenizer=tokenizer
    )


def load_fortunes(options: str = "", *, image_size=None, limit: int | None = None, tokenizer=None) -> TextDataset:
    name = "fortunes" + (f"?{options}" if options else "")
    return text_dataset(name, fortune_entries(), options, limit=limit, tokenizer=tokenizer)


register(
    DatasetSpec(
        "text:",
        "UTF-8 text, one example per line (a file, or a folder of *.txt); options ?vocab=N&tokenizer=word|bpe"
        "&max_tokens=N",
        load_text,
        lambda: "your files",
        lambda: True,
        "as its lines",
        argument="PATH[?vocab=N&max_tokens=N]",
        kind="text",
    )
)
register(
    DatasetSpec(
        "fortunes",
        "text: the fortune cookies of the Debian package fortunes, one example per entry (options as text:)",
        load_fortunes,
        lambda: f"{FORTUNES} (apt-get install fortunes)",
        lambda: (FORTUNES / "fortunes").is_file(),
        "about 14,700 entries",
        kind="text",
    )
)
