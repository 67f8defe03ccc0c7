"""The in-domain classifier network (``FeatureNet``) and its shipped weights: a small CNN whose penultimate layer
gives the features of FID/KID/precision-recall (``imsynth.metrics.features``) and whose logits are the classifier
that adversarial attacks and defences are measured on. It sits in the bottom torch layer so that models (the
Defense-VAE attacks it while training) and metrics can both use it."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, DataError
from . import runs as ckpt

WEIGHTS_DIR = Path(__file__).parent.parent / "metrics" / "weights"  # package data, beside the metrics that made them
INPUT_SIZE = 32
FEATURE_DIM = 128


ARCHITECTURES = ("vgg", "resnet")
# The second shipped network of a dataset (issue 16: an objective must not be an artefact of one network):
# another architecture, another seed, trained independently
SECOND = "resnet"


class _Residual(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
            nn.GroupNorm(8, c_out),
            nn.GELU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.GroupNorm(8, c_out),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.body(x) + self.skip(x))


class FeatureNet(nn.Module):
    """images (B, C, H, W) in [-1, 1], any size -> logits (B, classes); ``features`` -> (B, 128).

    ``architecture``: "vgg" (3x3 convolutions, batch norm, max pooling, a flattened 4x4 map: the first shipped
    network) or "resnet" (strided residual blocks, group norm, GELU, global average pooling: the second)."""

    def __init__(self, *, channels: int, num_classes: int, architecture: str = "vgg") -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise CheckpointError(f"unknown feature network architecture {architecture!r}")

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        if architecture == "vgg":
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
            flat = 128 * 4 * 4
        else:
            self.body = nn.Sequential(
                nn.Conv2d(channels, 32, 3, padding=1, bias=False),
                nn.GroupNorm(8, 32),
                nn.GELU(),
                _Residual(32, 64),  # 16x16
                _Residual(64, 128),  # 8x8
                _Residual(128, 192),  # 4x4
                nn.AdaptiveAvgPool2d(1),
            )
            flat = 192
        self.embed = nn.Linear(flat, FEATURE_DIM)
        self.classify = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(FEATURE_DIM, num_classes))
        self.channels, self.num_classes, self.architecture = channels, num_classes, architecture

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            images = F.interpolate(images.float(), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.embed(self.body(images).flatten(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))


def shipped_path(name: str, architecture: str = "vgg") -> Path:
    stem = name.replace(":", "_").replace("/", "_")
    return WEIGHTS_DIR / (f"{stem}.safetensors" if architecture == "vgg" else f"{stem}.{architecture}.safetensors")


def load_feature_net(
    dataset_name: str, path: str | Path | None = None, *, architecture: str = "vgg"
) -> tuple[FeatureNet, dict]:
    """The feature network for a dataset (shipped weights of ``architecture``, or ``path``) and its metadata."""
    path = Path(path) if path else shipped_path(dataset_name, architecture)
    if not path.is_file():
        raise DataError(
            f"no feature network for dataset {dataset_name!r} (looked for {path}); make one with "
            f"`imsynth features train --data {dataset_name}`"
        )
    meta = ckpt.read_metadata(path, "feature network")
    try:
        net = FeatureNet(
            channels=int(meta["channels"]),
            num_classes=int(meta["num_classes"]),
            architecture=meta.get("architecture", "vgg"),
        )
    except KeyError as missing:
        raise CheckpointError(f"{path}: feature network metadata lacks {missing}") from None
    ckpt.load_weights_into(net, ckpt.read_tensors(path), path)
    net.eval()
    info = {
        "name": meta.get("name", path.stem),
        "path": str(path),
        "test_accuracy": float(meta.get("test_accuracy", "nan")),
        "dataset": meta.get("dataset", dataset_name),
        "architecture": net.architecture,
        "feature_dim": FEATURE_DIM,
    }
    return net, info
