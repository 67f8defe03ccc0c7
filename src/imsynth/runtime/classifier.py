"""The in-domain classifier network (``FeatureNet``) and its shipped weights: a small CNN whose penultimate layer
gives the features of FID/KID/precision-recall (``imsynth.metrics.features``) and whose logits are the classifier
that adversarial attacks and defences are measured on. It sits in the bottom torch layer so that models (the
Defense-VAE attacks it while training) and metrics can both use it."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import nn

from ..errors import CheckpointError, DataError
from . import runs as ckpt

WEIGHTS_DIR = Path(__file__).parent.parent / "metrics" / "weights"  # package data, beside the metrics that made them
INPUT_SIZE = 32
FEATURE_DIM = 128


class FeatureNet(nn.Module):
    """images (B, C, H, W) in [-1, 1], any size -> logits (B, classes); ``features`` -> (B, 128)."""

    def __init__(self, *, channels: int, num_classes: int) -> None:
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(channels, 32),
            *block(32, 32),
            nn.MaxPool2d(2),  # 16x16
            *block(32, 64),
            *block(64, 64),
            nn.MaxPool2d(2),  # 8x8
            *block(64, 128),
            *block(128, 128),
            nn.MaxPool2d(2),  # 4x4
        )
        self.embed = nn.Linear(128 * 4 * 4, FEATURE_DIM)
        self.classify = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(FEATURE_DIM, num_classes))
        self.channels, self.num_classes = channels, num_classes

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            images = F.interpolate(images.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.embed(self.body(images).flatten(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))


def shipped_path(name: str) -> Path:
    return WEIGHTS_DIR / f"{name.replace(':', '_').replace('/', '_')}.safetensors"


def load_feature_net(dataset_name: str, path: str | Path | None = None) -> tuple[FeatureNet, dict]:
    """The feature network for a dataset (shipped weights, or ``path``) and its metadata."""
    path = Path(path) if path else shipped_path(dataset_name)
    if not path.is_file():
        raise DataError(
            f"no feature network for dataset {dataset_name!r} (looked for {path}); make one with "
            f"`imsynth features train --data {dataset_name}`"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
    except Exception as error:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: damaged feature network ({error})") from None
    try:
        net = FeatureNet(channels=int(meta["channels"]), num_classes=int(meta["num_classes"]))
    except KeyError as missing:
        raise CheckpointError(f"{path}: feature network metadata lacks {missing}") from None
    ckpt.load_weights_into(net, ckpt.read_tensors(path), path)
    net.eval()
    info = {
        "name": meta.get("name", path.stem),
        "path": str(path),
        "test_accuracy": float(meta.get("test_accuracy", "nan")),
        "dataset": meta.get("dataset", dataset_name),
        "feature_dim": FEATURE_DIM,
    }
    return net, info
