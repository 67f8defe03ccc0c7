"""Small data builders and CLI helpers shared by tests."""

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
