import json

import pytest
import torch

from imsynth.data import list_datasets, load_dataset
from imsynth.errors import CheckpointError, DataError
from imsynth.metrics.features import (
    FEATURE_DIM,
    accuracy,
    extract_features,
    load_feature_net,
    shipped_path,
    train_feature_net,
)
from tests.helpers import tiny_dataset


@pytest.mark.parametrize(
    "name, architecture, floor",
    [("digits", "vgg", 0.95), ("fashion-mnist", "vgg", 0.91), ("fashion-mnist", "resnet", 0.91)],
)
def test_shipped_feature_nets_record_their_test_accuracy(name, architecture, floor):
    net, info = load_feature_net(name, architecture=architecture)
    assert info["test_accuracy"] >= floor and net.architecture == architecture
    recorded = json.loads(shipped_path(name, architecture).with_suffix(".json").read_text())
    assert recorded["test_accuracy"] == pytest.approx(info["test_accuracy"])
    if name == "digits" or any(r["name"] == name and r["available"] for r in list_datasets()):
        data = load_dataset(name)
        measured = accuracy(net, data.test_images[:2000], data.test_labels[:2000])
        assert measured >= floor - 0.02  # the recorded figure is real, not copied
    assert extract_features(net, torch.zeros(3, 1, 28, 28, dtype=torch.uint8)).shape == (3, FEATURE_DIM)


@pytest.mark.parametrize("architecture", ["vgg", "resnet"])
def test_training_a_feature_net_learns_and_saves(tmp_path, architecture):
    data = tiny_dataset(count=128, size=8, classes=2)
    data.train_images[data.train_labels == 1] //= 4  # class 1 is dark: learnable
    data.test_images[data.test_labels == 1] //= 4
    net, info = train_feature_net(
        data, tmp_path / "f.safetensors", epochs=15, batch_size=32, quiet=True, architecture=architecture
    )
    assert info["test_accuracy"] >= 0.9
    reloaded, meta = load_feature_net("tiny", tmp_path / "f.safetensors")
    assert meta["test_accuracy"] == pytest.approx(info["test_accuracy"]) and meta["architecture"] == architecture
    assert reloaded.architecture == architecture
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    assert torch.allclose(extract_features(reloaded, images), extract_features(net, images), atol=1e-4)


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


def test_pgd_adversarial_training_trains_on_attacked_batches(tmp_path, capsys, monkeypatch):
    import imsynth.metrics.features as features
    from tests.helpers import assert_one_line_error, run_cli

    data = load_dataset("digits", limit=128)
    seen = []
    real_pgd = features.pgd

    def spy(model, images, labels, **options):
        adversarial = real_pgd(model, images, labels, **options)
        seen.append((adversarial - images).abs().max().item())
        return adversarial

    monkeypatch.setattr(features, "pgd", spy)
    robust, info = train_feature_net(
        data, tmp_path / "robust.safetensors", epochs=1, batch_size=64, quiet=True, adversarial_eps=0.1,
        adversarial_steps=2,
    )  # fmt: skip
    assert len(seen) == 2 and all(0.05 < size <= 0.1 + 1e-4 for size in seen)  # one PGD batch per step, in the ball
    assert info["adversarial_eps"] == 0.1 and info["adversarial_steps"] == 2
    assert load_feature_net("x", tmp_path / "robust.safetensors")[1]["test_accuracy"] == info["test_accuracy"]
    plain, _ = train_feature_net(data, None, epochs=1, batch_size=64, quiet=True)
    assert len(seen) == 2  # no attack without --adversarial-eps
    assert not torch.equal(plain.embed.weight, robust.embed.weight)
    code, _, err = run_cli(capsys, "features", "train", "--data", "digits", "--adversarial-eps", "0.1")
    assert_one_line_error(code, err)
    assert "give --out" in err
