"""Text datasets: splits fixed by a seed, a tokenizer trained on the train split, the length cap, bad files."""

import numpy as np
import pytest
import torch

from imsynth.data import detokenize, load_dataset
from imsynth.data.text import BOS, EOS, FORTUNES, PAD, UNK
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
