"""Text datasets for the sentence VAE, as ``TextDataset``s the engine batches like images.

Specs (options after ``?``, joined with ``&``):

- ``text:PATH``: a UTF-8 text file, or a folder of ``*.txt`` files, cut into examples by ``unit``.
- ``fortunes``: the Debian package ``fortunes`` (about 14,700 entries, /usr/share/games/fortunes; the drawings in
  ``art`` and ``ascii-art`` left out), one example per entry with its lines joined.
- Options: ``unit=auto|line|sentence|paragraph`` (what one example is: a line; a paragraph, the lines between
  blank lines joined; or a sentence of a paragraph, split by pysbd's rules. ``auto``, the default, takes sentences
  when the file looks hard-wrapped (a book or notes at ~70 columns, whose lines stop mid-sentence) and lines
  otherwise, and says which on stderr; fortunes' ``auto`` is its entries), ``vocab=N`` (vocabulary cap, special
  tokens included; default 8000, at least 4), ``tokenizer=word`` (lower-cased words and punctuation, Hugging
  Face ``tokenizers`` WordLevel; the default) or ``tokenizer=bpe`` (byte-level BPE: no unknown tokens),
  ``max_tokens=N`` (the length cap, default 40: longer examples are cut to it, and counted), e.g.
  ``fortunes?vocab=4000&max_tokens=32``, ``text:book.txt?unit=sentence``.

Examples are split 90/5/5 into train, validation and test by a fixed seed; the tokenizer is trained on the train
split only and saved in the run (``tokenizer.json``), which later loads of the run reuse. Tokens are int32 rows
``[BOS] w1 .. wn [EOS] [PAD] ..`` of ``max_tokens + 2`` ids. The test split's text is kept (``extra["test_text"]``)
so that evaluation can report bits per character, which compares tokenizers.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl

import numpy as np
import pysbd
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ..errors import CheckpointError, DataError, InputError
from .base import DatasetSpec, ImageDataset, register

SPECIALS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
PAD, UNK, BOS, EOS = range(4)
FORTUNES = Path("/usr/share/games/fortunes")
DRAWINGS = {"art", "ascii-art"}
DEFAULTS = {"vocab": 8000, "tokenizer": "word", "max_tokens": 40, "unit": "auto"}
UNITS = ("auto", "line", "sentence", "paragraph")
# a line that ends a sentence: its last mark, then any closing quotes or brackets
SENTENCE_END = re.compile(r"[.!?:;][\"'\u201d\u2019)\]]*$")
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


def bits_per_character(
    tokenizer: Tokenizer, texts: list[str], nll_nats: float, max_tokens: int, reference: list[str]
) -> dict:
    """A model's total NLL over the rows of ``texts`` (nats) as bits per character, which compares tokenizers.

    The characters are those the rows cover (a row cut at ``max_tokens`` covers its first tokens' text) plus
    one per row for its end. Each unknown token's characters are spelled out under a character unigram model of
    ``reference`` (the train split, add-one smoothed) and their bits added, so that a word tokenizer cannot look
    better by giving up on rare words; ``unknown_tokens`` is their share of the tokens."""
    counts = Counter("".join(reference) + " ")
    total, alphabet = sum(counts.values()), len(counts) + 1

    def bits(character: str) -> float:
        return -math.log2((counts.get(character, 0) + 1) / (total + alphabet))

    characters, tokens, spelled, unknown = 0, 0, 0.0, 0
    for text, encoding in zip(texts, tokenizer.encode_batch(texts, add_special_tokens=False), strict=True):
        ids, offsets = encoding.ids[:max_tokens], encoding.offsets[:max_tokens]
        characters += (len(text) if len(encoding.ids) <= max_tokens else offsets[-1][1]) + 1
        tokens += len(ids) + 1
        for token, (start, end) in zip(ids, offsets, strict=True):
            if token == UNK:
                unknown += 1
                spelled += sum(bits(c) for c in text[start:end]) + bits(" ")
    return {
        "bits_per_char": (nll_nats / math.log(2) + spelled) / characters,
        "unknown_tokens": unknown / tokens,
        "characters": characters,
    }


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DataError(f"{path}: a binary file, not UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def _blocks_of(path: Path) -> list[list[str]]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{path}: a folder with no *.txt files")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or folder")
    blocks = [block for file in files for block in paragraphs(_read_text(file))]
    if not blocks:
        raise DataError(f"{path}: no text (empty, or only blank lines)")
    return blocks


def paragraphs(text: str) -> list[list[str]]:
    """The runs of non-blank lines (their whitespace collapsed) between blank lines."""
    blocks, block = [], []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    return blocks + [block] if block else blocks


def looks_wrapped(blocks: list[list[str]]) -> bool:
    """Hard-wrapped prose rather than one example per line: most lines that a paragraph continues after stop
    without ending a sentence, and most are nearly as long as the longest lines (wrapped at a width). A list of
    titles or phrases fails the second test, a list of sentences the first."""
    inner = [line for block in blocks for line in block[:-1]]
    if len(inner) < 2:
        return False
    width = np.percentile([len(line) for block in blocks for line in block], 95)
    unfinished = np.mean([not SENTENCE_END.search(line) for line in inner])
    full = np.mean([len(line) >= 0.7 * width for line in inner])
    return bool(unfinished > 0.5 and full > 0.6)


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:  # a word broken at a hyphen keeps it, with no space: "well-known", "exam-ple"
        text += line if re.search(r"\w-$", text) else " " + line
    return text


def split_units(blocks: list[list[str]], unit: str) -> list[str]:
    """Examples from paragraphs: each line, each paragraph joined, or each sentence of each paragraph."""
    if unit == "line":
        return [line for block in blocks for line in block]
    joined = [_join(block) for block in blocks]
    if unit == "paragraph":
        return joined
    segmenter = pysbd.Segmenter(language="en", clean=False)
    return [kept for text in joined for sentence in segmenter.segment(text) if (kept := sentence.strip())]


def fortune_entries() -> list[list[str]]:
    """Each fortune cookie as its lines."""
    entries = []
    for file in sorted(FORTUNES.iterdir()):
        if file.suffix or file.name in DRAWINGS or not file.is_file() or file.is_symlink():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        entries += [
            [" ".join(line.split()) for line in entry.splitlines() if line.strip()]
            for entry in re.split(r"^%\s*$", text, flags=re.M)
        ]
    return [entry for entry in entries if entry]


def parse_options(spec: str, options: str) -> dict:
    values = dict(DEFAULTS)
    for key, value in parse_qsl(options, keep_blank_values=True):
        if key not in DEFAULTS:
            raise InputError(f"{spec}: unknown text option {key!r}; valid: {', '.join(DEFAULTS)}")
        values[key] = value
    if values["unit"] not in UNITS:
        raise InputError(f"{spec}: unit must be one of {', '.join(UNITS)}, got {values['unit']!r}")
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
    name: str,
    blocks: list[list[str]],
    options: str,
    *,
    auto: str | None = None,
    limit: int | None = None,
    tokenizer: Tokenizer | None = None,
) -> TextDataset:
    """Cut ``blocks`` (paragraphs, as their lines) into examples by the ``unit`` option (``auto`` resolves to
    ``auto`` when given, else by ``looks_wrapped``), then split, tokenise (training the tokenizer on the train
    split unless one is given) and encode them."""
    values = parse_options(name, options)
    unit = values["unit"]
    if unit == "auto":
        unit = auto or ("sentence" if looks_wrapped(blocks) else "line")
        if auto is None and unit == "sentence":
            print(
                f"imsynth: {name}: hard-wrapped prose, one example per sentence (unit=line to keep lines)",
                file=sys.stderr,
            )
    lines = split_units(blocks, unit)
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
            "text_options": {**values, "unit": unit},
            "test_text": splits["test"],
            "train_text": splits["train"],
        },
    )


def load_text(argument: str, *, image_size=None, limit: int | None = None, tokenizer=None) -> TextDataset:
    path, _, options = argument.partition("?")
    parse_options(f"text:{argument}", options)  # a bad option is named before the file is read
    return text_dataset(
        f"text:{argument}", _blocks_of(Path(path).expanduser()), options, limit=limit, tokenizer=tokenizer
    )


def load_fortunes(options: str = "", *, image_size=None, limit: int | None = None, tokenizer=None) -> TextDataset:
    name = "fortunes" + (f"?{options}" if options else "")
    return text_dataset(name, fortune_entries(), options, auto="paragraph", limit=limit, tokenizer=tokenizer)


register(
    DatasetSpec(
        "text:",
        "UTF-8 text (a file, or a folder of *.txt), one example per line, or per sentence of hard-wrapped prose; "
        "options ?unit=auto|line|sentence|paragraph&vocab=N&tokenizer=word|bpe&max_tokens=N",
        load_text,
        lambda: "your files",
        lambda: True,
        "as its examples",
        argument="PATH[?unit=sentence&vocab=N&max_tokens=N]",
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
