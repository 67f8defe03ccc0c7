"""Text datasets: splits fixed by a seed, a tokenizer trained on the train split, the length cap, bad files;
what one example is (line, sentence, paragraph) and bits per character."""

import math
import textwrap

import numpy as np
import pytest
import torch

from imsynth.data import detokenize, load_dataset
from imsynth.data.text import BOS, EOS, FORTUNES, PAD, UNK, bits_per_character
from imsynth.errors import DataError, InputError
from tests.helpers import assert_one_line_error, run_cli, tiny_sentences


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(tiny_sentences(200)) + "\n\n")
    return path


def test_text_file_splits_and_encodes(corpus):
    data = load_dataset(f"text:{corpus}?max_tokens=6")
    again = load_dataset(f"text:{corpus}?max_tokens=6")
    assert data.kind == "text" and data.train_images.dtype == torch.int32
    assert data.train_images.shape == (180, 8) and data.test_images.shape == (10, 8)
    assert data.extra["validation"].shape == (10, 8)
    assert torch.equal(data.train_images, again.train_images) and torch.equal(data.test_images, again.test_images)
    row = data.train_images[0].tolist()
    assert row[0] == BOS and EOS in row and all(t == PAD for t in row[row.index(EOS) + 1 :])
    lines = set(corpus.read_text().splitlines())
    assert detokenize(data.tokenizer, row).replace(".", " .") in lines  # the word tokenizer lower-cases; "x ." -> "x."


def test_tokenizer_sees_only_the_train_split(tmp_path):
    lines = tiny_sentences(60) + ["zebra" + str(i) for i in range(40)]  # 40 words seen once each
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines))
    data = load_dataset(f"text:{path}")
    vocabulary = data.tokenizer.get_vocab()
    held_out = [detokenize(data.tokenizer, r.tolist()) for r in torch.cat([data.test_images, data.extra["validation"]])]
    unknown = [line for line in held_out if line == "<unk>"]
    assert unknown and not any(f"zebra{i}" in vocabulary and f"zebra{i}" in held_out for i in range(40))
    assert sum(f"zebra{i}" in vocabulary for i in range(40)) == 40 - len(unknown)


def test_long_lines_are_cut_and_counted(tmp_path, capsys):
    path = tmp_path / "long.txt"
    path.write_text("\n".join(["one two three four five six seven"] * 7 + ["short line"] * 13))
    data = load_dataset(f"text:{path}?max_tokens=4")
    assert data.extra["truncated"] == 7
    assert "7 of 20 examples cut to max_tokens=4" in capsys.readouterr().err
    rows = torch.cat([data.train_images, data.test_images, data.extra["validation"]])
    cut = rows[(rows[:, 1:5] > EOS).all(1)]
    assert len(cut) and (cut[:, 5] == EOS).all()


def test_bpe_tokenizer_has_no_unknowns(corpus):
    data = load_dataset(f"text:{corpus}?tokenizer=bpe&vocab=300")
    assert not (data.train_images == UNK).any()
    text = corpus.read_text().splitlines()
    decoded = {detokenize(data.tokenizer, r.tolist()) for r in data.train_images}
    assert decoded <= set(text)


def test_folder_of_text_files(tmp_path):
    (tmp_path / "a.txt").write_text("the cat sees the ball .\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("a dog eats some bread .\n" * 5)
    (tmp_path / "skip.bin").write_bytes(b"\x00\xff")
    data = load_dataset(f"text:{tmp_path}")
    assert len(data.train_images) + len(data.test_images) + len(data.extra["validation"]) == 6


@pytest.mark.parametrize(
    ("content", "spec", "error", "fragment"),
    [
        (b"", "", DataError, "no text"),
        (b"\n  \n", "", DataError, "no text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "", DataError, "binary"),
        (b"caf\xe9\n", "", DataError, "not UTF-8 text (byte 0xe9 at offset 3)"),
        (b"a b c\n", "?vocab=3", InputError, "vocab must be at least 4"),
        (b"a b c\n", "?size=3", InputError, "unknown text option 'size'"),
        (b"a b c\n", "?tokenizer=char", InputError, "tokenizer must be word or bpe"),
        (b"a b c\n", "?max_tokens=x", InputError, "max_tokens must be an integer"),
        (b"a b c\n", "?unit=word", InputError, "unit must be one of auto, line, sentence, paragraph, got 'word'"),
    ],
)
def test_bad_text_files(tmp_path, content, spec, error, fragment):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(error, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(f"text:{path}{spec}")


def test_bad_text_from_the_cli(tmp_path, capsys):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    code, _, err = run_cli(capsys, "train", "text-vae", "--data", f"text:{path}", "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "empty.txt", "no text")
    assert not (tmp_path / "r").exists()
    code, _, err = run_cli(capsys, "train", "text-vae", "--data", f"text:{path}?vocab=2", "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "vocab must be at least 4")


@pytest.mark.skipif(not (FORTUNES / "fortunes").is_file(), reason="Debian package fortunes not installed")
def test_fortunes_corpus():
    data = load_dataset("fortunes?vocab=2000&max_tokens=20")
    total = len(data.train_images) + len(data.test_images) + len(data.extra["validation"])
    assert 14000 <= total <= 16000 and data.extra["vocab_size"] == 2000
    assert np.isclose(len(data.test_images) / total, 0.05, atol=0.001)


WORDS = "the a cat dog river stone light old green quiet house runs sees keeps under over near slowly".split()


def prose_sentences(count: int, seed: int = 0) -> list[str]:
    """Sentences of 4-24 words, capitalised, ending in . ! or ?: the units a wrapped prose file hides."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(rng.choice(WORDS, rng.integers(4, 25))).capitalize() + str(rng.choice([".", "!", "?"]))
        for _ in range(count)
    ]


def wrapped_file(path, sentences, per_paragraph=5, width=70):
    paragraphs = [" ".join(sentences[i : i + per_paragraph]) for i in range(0, len(sentences), per_paragraph)]
    path.write_text("\n\n".join(textwrap.fill(p, width) for p in paragraphs) + "\n")
    return path


def test_wrapped_prose_is_cut_into_its_sentences_by_default(tmp_path, capsys):
    sentences = prose_sentences(120)
    path = wrapped_file(tmp_path / "book.txt", sentences)
    assert max(len(line) for line in path.read_text().splitlines()) <= 70 < max(map(len, sentences))
    data = load_dataset(f"text:{path}?max_tokens=30")
    assert data.extra["text_options"]["unit"] == "sentence"
    assert "hard-wrapped prose, one example per sentence" in capsys.readouterr().err
    examples = data.extra["train_text"] + data.extra["test_text"]
    assert len(examples) == 120 - 6 and set(examples) <= set(sentences)  # 6 held out for validation
    # unit=line keeps the wrapped lines, which stop mid-sentence
    lines = load_dataset(f"text:{path}?unit=line&max_tokens=30")
    assert lines.extra["text_options"]["unit"] == "line"
    kept = set(lines.extra["train_text"] + lines.extra["test_text"])
    assert kept <= set(path.read_text().splitlines()) and not kept <= set(sentences)


def test_one_example_per_line_files_keep_their_lines(tmp_path, capsys):
    # sentences one per line, and phrases with no full stops (titles, names): neither is wrapped prose
    for name, lines in [("sentences", prose_sentences(60)), ("phrases", [s[:-1] for s in prose_sentences(60)])]:
        path = tmp_path / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        data = load_dataset(f"text:{path}?max_tokens=30")
        assert data.extra["text_options"]["unit"] == "line", name
        assert set(data.extra["train_text"] + data.extra["test_text"]) <= set(lines)
    assert "hard-wrapped" not in capsys.readouterr().err


def test_paragraph_units_join_lines_and_keep_hyphens(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("A well-\nknown river runs\nunder the stone.\n\n\nThe old house.\nIt keeps near.\n\n" * 3)
    data = load_dataset(f"text:{path}?unit=paragraph")
    assert set(data.extra["train_text"]) == {
        "A well-known river runs under the stone.",
        "The old house. It keeps near.",
    }
    sentences = load_dataset(f"text:{path}?unit=sentence")
    assert "It keeps near." in sentences.extra["train_text"] + sentences.extra["test_text"]


def test_bits_per_character_spells_out_unknown_words(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("aaa bbb\n" * 10)
    tokenizer = load_dataset(f"text:{path}").tokenizer
    known = bits_per_character(tokenizer, ["aaa bbb"], 4.0, 40, ["aaa bbb"])
    assert known["unknown_tokens"] == 0 and known["characters"] == 8
    assert known["bits_per_char"] == pytest.approx(4.0 / math.log(2) / 8)
    # "zzz" is unknown: its 3 letters and the space after it, at add-one probabilities over "aaa bbb " (8
    # characters, 3 distinct + 1 unseen): 3 log2(12) + log2(12 / 3)
    unknown = bits_per_character(tokenizer, ["aaa zzz"], 4.0, 40, ["aaa bbb"])
    assert unknown["unknown_tokens"] == pytest.approx(1 / 3)
    spelled = 3 * math.log2(12) + math.log2(4)
    assert unknown["bits_per_char"] == pytest.approx((4.0 / math.log(2) + spelled) / 8)
    # a row cut at max_tokens covers only the characters of the tokens kept
    cut = bits_per_character(tokenizer, ["aaa bbb aaa bbb"], 4.0, 2, ["aaa bbb"])
    assert cut["characters"] == len("aaa bbb") + 1
