import json

import pytest
import torch

from imsynth.data import list_datasets, load_dataset
from imsynth.errors import CheckpointError, DataError
from imsynth.metrics.features import (
    FEATURE_DIM,
    WEIGHTS_DIR,
    accuracy,
    extract_features,
    load_feature_net,
    train_feature_net,
)
from tests.helpers import tiny_dataset


@pytest.mark.parametrize("name, floor", [("digits", 0.95), ("fashion-mnist", 0.91)])
def test_shipped_feature_nets_record_their_test_accuracy(name, floor):
    net, info = load_feature_net(name)
    assert info["test_accuracy"] >= floor
    assert json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["test_accuracy"] == pytest.approx(
        info["test_accuracy"]
    )
    if name == "digits" or any(r["name"] == name and r["available"] for r in list_datasets()):
        data = load_dataset(name)
        measured = accuracy(net, data.test_images[:2000], data.test_labels[:2000])
        assert measured >= floor - 0.02  # the recorded figure is real, not copied
    assert extract_features(net, torch.zeros(3, 1, 28, 28, dtype=torch.uint8)).shape == (3, FEATURE_DIM)


def test_training_a_feature_net_learns_and_saves(tmp_path):
    data = tiny_dataset(count=128, size=8, classes=2)
    data.train_images[data.train_labels == 1] //= 4  # class 1 is dark: learnable
    data.test_images[data.test_labels == 1] //= 4
    net, info = train_feature_net(data, tmp_path / "f.safetensors", epochs=15, batch_size=32, quiet=True)
    assert info["test_accuracy"] >= 0.9
    reloaded, meta = load_feature_net("tiny", tmp_path / "f.safetensors")
    assert meta["test_accuracy"] == pytest.approx(info["test_accuracy"])


def test_feature_net_errors():
    with pytest.raises(DataError, match="imsynth features train --data nothing"):
        load_feature_net("nothing")
    unlabelled = tiny_dataset()
    unlabelled.train_labels = None
    with pytest.raises(DataError, match="needs class labels"):
        train_feature_net(unlabelled, None, epochs=1)


def test_damaged_feature_net_file(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"\x01\x02garbage")
    with pytest.raises(CheckpointError, match="damaged"):
        load_feature_net("x", tmp_path / "x.safetensors")
