"""Small data builders and CLI helpers shared by tests."""

import struct
import zlib

import numpy as np
import pytest
import torch


def tiny_dataset(count: int = 64, size: int = 8, channels: int = 1, classes: int = 4, seed: int = 0):
    """A small labelled dataset of smooth random blobs, for fast engine tests."""
    from imsynth.data import ImageDataset

    generator = torch.Generator().manual_seed(seed)
    base = torch.rand(count, channels, size // 2, size // 2, generator=generator)
    images = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    images = (images * 255).round().to(torch.uint8)
    labels = torch.arange(count) % classes
    return ImageDataset(
        name="tiny",
        train_images=images,
        test_images=images[: count // 4],
        train_labels=labels,
        test_labels=labels[: count // 4],
        class_names=[str(i) for i in range(classes)],
    )


def quadrants(count: int = 128):
    """8x8 images, one white 4x4 quadrant each: four equally likely pictures whose mean is a grey blur."""
    from imsynth.data import ImageDataset

    images = torch.zeros(count, 1, 8, 8, dtype=torch.uint8)
    for index in range(count):
        row, column = divmod(index % 4, 2)
        images[index, 0, 4 * row : 4 * row + 4, 4 * column : 4 * column + 4] = 255
    labels = torch.arange(count) % 4
    return ImageDataset(
        name="quadrants",
        train_images=images,
        test_images=images[:32],
        train_labels=labels,
        test_labels=labels[:32],
        class_names=list("abcd"),
    )


def tiny_pairs(count: int = 48, size: int = 8, seed: int = 0):
    """Two one-channel domains stacked on the channel axis (a pairs dataset), for translation models."""
    data = tiny_dataset(count=count, size=size, channels=2, classes=4, seed=seed)
    data.kind, data.extra["domains"] = "pairs", (1, 1)
    return data


def tiny_clips(count: int = 48, frames: int = 4, size: int = 8, seed: int = 0):
    """Clips of one bright square sliding right a pixel per frame from a random start, for fast video tests."""
    from imsynth.data.clips import ClipDataset

    rng = np.random.default_rng(seed)
    clips = np.zeros((count, frames, 1, size, size), dtype=np.uint8)
    for index in range(count):
        top, left = rng.integers(0, size - 3, 2)
        for t in range(frames):
            column = (left + t) % (size - 2)
            clips[index, t, 0, top : top + 3, column : column + 3] = 255
    data = torch.from_numpy(clips)
    return ClipDataset(name="tiny-clips", train_images=data, test_images=data[: count // 4])


TINY_WORDS = (
    ("the cat", "a dog", "my bird", "one fish"),
    ("sees", "likes", "eats", "finds"),
    ("the ball", "a tree", "the house", "some bread"),
)


def tiny_sentences(count: int = 64, seed: int = 0) -> list[str]:
    """Sentences of a tiny grammar (subject, verb, object, full stop), for fast text tests."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words) for words in TINY_WORDS) + " ." for _ in range(count)]


def tiny_text_dataset(count: int = 64, options: str = "vocab=40&max_tokens=8", seed: int = 0):
    from imsynth.data.text import text_dataset

    return text_dataset("tiny-text", [[line] for line in tiny_sentences(count, seed)], options)


def run_cli(capsys, *args):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    from imsynth.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
        raise SystemExit(0)
    captured = capsys.readouterr()
    return done.value.code or 0, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imsynth: error:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def tiny_run(root, name, *, steps=20, data=None, lr=None, **model_overrides):
    """A run of ``name`` at its registry's tiny size, trained ``steps`` steps on ``data`` (default: the bundled
    digits), at the family's learning rate or ``lr``."""
    import dataclasses

    from imsynth.data import load_dataset
    from imsynth.models import config_for_dataset, get_entry
    from imsynth.train import train

    data = data if data is not None else load_dataset("digits")
    entry = get_entry(name)
    config = dataclasses.replace(config_for_dataset(entry.default_config(), data), **{**entry.tiny, **model_overrides})
    train_config = dataclasses.replace(
        entry.default_train_config(),
        steps=steps,
        batch_size=min(32, len(data.train_images)),
        fid_every=0,
        sample_every=1000,
        checkpoint_every=1000,
        **({"lr": lr} if lr is not None else {}),
    )
    out = root / name
    train(name, data, out, model_config=config, train_config=train_config, quiet=True)
    return out


def huge_png() -> bytes:
    """A PNG header declaring 100,000 x 100,000 grey pixels and no data: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
