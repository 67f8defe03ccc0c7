"""A clip feature network for video metrics: a small 3D-convolutional classifier of the known content and motion
factors of a clip dataset (``moving-fashion``: the item, its first direction and speed; ``moving-shapes``: shape,
scale, direction, speed, spin), whose pooled penultimate layer gives the features of the Fréchet video distance
(FVD, Unterthiner et al. 2018, with this in-domain network in place of the I3D weights that cannot be downloaded
here) and whose heads say whether a swapped clip kept one clip's content and another's motion.

Weights for ``moving-fashion`` and ``moving-shapes`` ship beside the image feature networks
(``<dataset>.clip3d.safetensors``, the test accuracy of every head in the metadata); ``imsynth features train
--data moving-fashion`` makes them for any clip dataset with known factors. The network sees every frame at
64x64 and pools over time, so clips of any length score, and a network trained on one variant of a dataset
(``?stochastic=1``, ``?items=1``) scores the others.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.clips import ClipDataset
from ..errors import CheckpointError, DataError
from ..runtime import runs as ckpt
from ..runtime.classifier import WEIGHTS_DIR
from .features import fit_classifier

FRAME_SIZE = 64
CLIP_FEATURE_DIM = 128
SUFFIX = "clip3d"


def _block(c_in: int, c_out: int, stride: tuple[int, int, int]) -> list[nn.Module]:
    return [nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU(True)]


class ClipFeatureNet(nn.Module):
    """clips (B, T, C, H, W) in [-1, 1] -> features (B, 128); ``forward`` -> one logit tensor per factor."""

    def __init__(self, *, channels: int, factor_sizes: tuple[int, ...], width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_block(channels, width, (1, 2, 2)),  # 32x32, every frame
            *_block(width, 2 * width, (1, 2, 2)),  # 16x16
            *_block(2 * width, 4 * width, (2, 2, 2)),  # 8x8, half the frames
            *_block(4 * width, 4 * width, (2, 2, 2)),  # 4x4
            nn.AdaptiveAvgPool3d(1),
        )
        self.embed = nn.Linear(4 * width, CLIP_FEATURE_DIM)
        self.heads = nn.ModuleList(nn.Linear(CLIP_FEATURE_DIM, size) for size in factor_sizes)
        self.channels, self.factor_sizes, self.width = channels, tuple(factor_sizes), width

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        batch, frames = clips.shape[:2]
        if clips.shape[-2:] != (FRAME_SIZE, FRAME_SIZE):
            flat = F.interpolate(clips.flatten(0, 1).float(), size=(FRAME_SIZE, FRAME_SIZE), mode="bilinear")
            clips = flat.view(batch, frames, clips.shape[2], FRAME_SIZE, FRAME_SIZE)
        return self.embed(self.body(clips.transpose(1, 2)).flatten(1))

    def forward(self, clips: torch.Tensor) -> list[torch.Tensor]:
        hidden = F.dropout(F.relu(self.features(clips)), 0.2, self.training)
        return [head(hidden) for head in self.heads]


def _as_model(clips: torch.Tensor) -> torch.Tensor:
    return clips.float() / 127.5 - 1 if clips.dtype == torch.uint8 else clips.float()


def base_name(dataset_name: str) -> str:
    """``moving-fashion?items=1&stochastic=1`` -> ``moving-fashion``: one network scores every variant."""
    return dataset_name.split("?", 1)[0].split(":", 1)[0]


def shipped_clip_path(dataset_name: str) -> Path:
    return WEIGHTS_DIR / f"{base_name(dataset_name)}.{SUFFIX}.safetensors"


@torch.no_grad()
def head_accuracy(net: ClipFeatureNet, clips: torch.Tensor, factors: torch.Tensor, batch_size: int = 64) -> list:
    """Per factor, the fraction of clips whose factor the network names."""
    net.eval()
    correct = torch.zeros(len(net.factor_sizes))
    for start in range(0, len(clips), batch_size):
        logits = net(_as_model(clips[start : start + batch_size]))
        truth = factors[start : start + batch_size]
        correct += torch.stack([(out.argmax(1) == truth[:, i]).float().sum() for i, out in enumerate(logits)])
    return (correct / len(clips)).tolist()


def train_clip_feature_net(
    dataset: ClipDataset,
    out: str | Path | None = None,
    *,
    epochs: int = 8,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 16,
    precision: str = "auto",
    quiet: bool = False,
) -> tuple[ClipFeatureNet, dict]:
    """Train on the train split to name every known factor of a clip (the sum of the heads' cross-entropies),
    report each head's test accuracy, save the weights (atomically) with it in their metadata."""
    if dataset.factors_train is None or not dataset.factor_sizes:
        raise DataError(
            f"{dataset.name}: a clip feature network learns the clips' known content and motion factors, and this "
            "dataset has none (moving-fashion, moving-digits and moving-shapes have them)"
        )
    torch.manual_seed(seed)
    net = ClipFeatureNet(channels=dataset.channels, factor_sizes=dataset.factor_sizes, width=width)

    def loss_of(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        logits, factors = net(_as_model(dataset.train_images[batch])), dataset.factors_train[batch]
        return sum(F.cross_entropy(out.float(), factors[:, i], label_smoothing=0.1) for i, out in enumerate(logits))

    started = time.perf_counter()
    fit_classifier(
        net, len(dataset.train_images), loss_of, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        precision=precision, desc=f"clip feature net {dataset.name}", quiet=quiet,
    )  # fmt: skip
    accuracies = head_accuracy(net, dataset.test_images, dataset.factors_test)
    info = {
        "name": f"imsynth-clipnet-{base_name(dataset.name)}",
        "dataset": dataset.name,
        "architecture": SUFFIX,
        "seed": seed,
        "width": width,
        "channels": dataset.channels,
        "factors": dict(zip(dataset.factor_names, dataset.factor_sizes)),
        "motion_factors": list(dataset.motion_factors),
        "test_accuracy": {name: round(a, 4) for name, a in zip(dataset.factor_names, accuracies)},
        "train_clips": len(dataset.train_images),
        "frames": dataset.frames,
        "epochs": epochs,
        "train_seconds": round(time.perf_counter() - started, 1),
        "frame_size": FRAME_SIZE,
    }
    if out is not None:
        out = Path(out)
        ckpt.write_tensors(out, net.state_dict(), metadata={"info": json.dumps(info)})
        ckpt.write_json(out.with_suffix(".json"), info)
    return net, info


def load_clip_feature_net(dataset_name: str, path: str | Path | None = None) -> tuple[ClipFeatureNet, dict]:
    """The clip feature network of a dataset (its shipped weights, or ``path``) and what it was trained on."""
    path = Path(path) if path else shipped_clip_path(dataset_name)
    if not path.is_file():
        raise DataError(
            f"no clip feature network for dataset {base_name(dataset_name)!r} (looked for {path}); make one with "
            f"`imsynth features train --data {base_name(dataset_name)}` where its clips have known factors "
            "(moving-fashion, moving-digits, moving-shapes), or give one with --feature-net"
        )
    meta = ckpt.read_metadata(path, "clip feature network")
    try:
        info = json.loads(meta["info"])
        net = ClipFeatureNet(
            channels=int(info["channels"]), factor_sizes=tuple(info["factors"].values()), width=int(info["width"])
        )
    except (KeyError, ValueError, TypeError) as problem:
        raise CheckpointError(f"{path}: not a clip feature network ({problem})") from None
    ckpt.load_weights_into(net, ckpt.read_tensors(path), path)
    net.eval()
    info["path"] = str(path)
    return net, info


@torch.no_grad()
def clip_features(net: ClipFeatureNet, clips: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
    """Features (N, 128) of uint8 or float [-1, 1] clips (N, T, C, H, W)."""
    net.eval()
    chunks = [net.features(_as_model(clips[i : i + batch_size])).float() for i in range(0, len(clips), batch_size)]
    return torch.cat(chunks) if chunks else torch.zeros(0, CLIP_FEATURE_DIM)


@torch.no_grad()
def clip_factors(net: ClipFeatureNet, clips: torch.Tensor, *, batch_size: int = 64) -> torch.Tensor:
    """The factors (N, K) the network names for each clip."""
    net.eval()
    named = [
        torch.stack([out.argmax(1) for out in net(_as_model(clips[i : i + batch_size]))], dim=1)
        for i in range(0, len(clips), batch_size)
    ]
    return torch.cat(named) if named else torch.zeros(0, len(net.factor_sizes), dtype=torch.long)


def factor_agreement(
    net: ClipFeatureNet, info: dict, swapped: torch.Tensor, content: torch.Tensor, motion: torch.Tensor
) -> dict:
    """How often the network names, in each swapped clip, the content factors of its content clip and the motion
    factors of its motion clip (``content``/``motion``: factors N x K, true ones where known, else the network's
    naming of the source clips): per factor, and all content (all motion) factors at once."""
    names = list(info["factors"])
    moving = torch.tensor([name in info["motion_factors"] for name in names])
    source = torch.where(moving[None, :], motion, content)
    same = clip_factors(net, swapped) == source
    return {
        "content_kept": round(float(same[:, ~moving].all(1).float().mean()), 4),
        "motion_kept": round(float(same[:, moving].all(1).float().mean()), 4),
        "per_factor": {name: round(float(same[:, i].float().mean()), 4) for i, name in enumerate(names)},
        "clips": len(swapped),
        "clip_net": info["name"],
    }
