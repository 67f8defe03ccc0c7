"""Two-domain datasets: A and B stacked on the channel axis, built by transforms, from folders, or unpaired."""

import numpy as np
import pytest
import torch

from imsynth.data import load_dataset
from imsynth.errors import DataError, InputError
from imsynth.image import save_image


def test_pairs_by_transform_keep_b_and_transform_a():
    source = load_dataset("digits")
    for transform in ("edges", "blur", "down", "holes"):
        data = load_dataset(f"pairs:digits~{transform}")
        assert data.extra["domains"] == (1, 1) and data.train_images.shape[1] == 2
        assert torch.equal(data.train_images[:, 1:], source.train_images)
        assert not torch.equal(data.train_images[:, :1], source.train_images)
    edges = load_dataset("pairs:digits~edges").train_images[:, 0]
    assert set(edges.unique().tolist()) <= {0, 255}


def test_grey_pairs_have_one_channel_for_a(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(4):
        save_image(tmp_path / f"{index}.png", rng.random((12, 12, 3)).astype(np.float32))
    data = load_dataset(f"pairs:folder:{tmp_path},{tmp_path}")
    assert data.extra["domains"] == (3, 3) and torch.equal(data.train_images[:, :3], data.train_images[:, 3:])
    from imsynth.data.pairs import _transform

    grey = _transform(data.train_images[:, 3:], "grey", 0)
    assert grey.shape[1] == 1


def test_paired_folders_align_by_name_and_list_mismatches(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    rng = np.random.default_rng(1)
    for index in range(6):
        image = rng.random((10, 10)).astype(np.float32)
        save_image(a / f"item{index}.png", image)
        save_image(b / f"item{index}.png", 1 - image)
    data = load_dataset(f"pairs:folder:{a},{b}")
    pairs = torch.cat([data.train_images, data.test_images])
    assert torch.equal(pairs[:, 0].int() + pairs[:, 1].int(), torch.full_like(pairs[:, 0].int(), 255))
    save_image(a / "extra.png", rng.random((10, 10)).astype(np.float32))
    with pytest.raises(DataError, match="file names do not match.*only in .*a: extra"):
        load_dataset(f"pairs:folder:{a},{b}")


def test_unpaired_selects_classes_and_uses_every_image():
    digits = load_dataset("digits")
    data = load_dataset("unpaired:digits[3],digits[8]")
    threes = digits.train_images[digits.train_labels == 3]
    eights = digits.train_images[digits.train_labels == 8]
    assert len(data.train_images) == max(len(threes), len(eights))
    a, b = data.train_images[:, :1], data.train_images[:, 1:]
    assert {bytes(x.numpy()) for x in a} == {bytes(x.numpy()) for x in threes}
    assert {bytes(x.numpy()) for x in b} == {bytes(x.numpy()) for x in eights}


@pytest.mark.parametrize(
    "spec, error, message",
    [
        ("pairs:digits~sketch", InputError, "unknown pair transform 'sketch'"),
        ("pairs:digits", InputError, "expected pairs:NAME~TRANSFORM"),
        ("pairs:folder:onlyone", InputError, "expected two folders"),
        ("unpaired:digits[3]", InputError, "expected unpaired:SPEC_A,SPEC_B"),
        ("unpaired:digits[3],digits[cat]", InputError, "no class 'cat'"),
    ],
)
def test_bad_pair_specs(spec, error, message):
    with pytest.raises(error, match=message):
        load_dataset(spec)
