"""The in-domain feature networks of FID/KID/precision-recall and the video distance: train one, list the shipped
ones (``imsynth features train`` and ``imsynth features list``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..data import load_dataset
from ..errors import InputError
from ..metrics.clip_features import shipped_clip_path, train_clip_feature_net
from ..metrics.features import describe_shipped, shipped_path, train_feature_net


def train_features(
    data: str,
    *,
    epochs: int = 10,
    out: str | Path | None = None,
    adversarial_eps: float = 0.0,
    adversarial_steps: int = 7,
    architecture: str = "vgg",
    seed: int = 0,
    limit: int | None = None,
    quiet: bool = False,
) -> dict:
    """Train a feature network (a classifier) on ``data``'s train split; its test accuracy and where it went.

    An image dataset trains ``architecture``; a clip dataset trains the 3D network of the video metrics (FVD,
    swaps), with a head per known factor. Without ``out`` the weights go where the package ships them; ``limit``
    keeps the first N train and test images (a quick try, so it needs ``out``)."""
    if adversarial_eps > 0 and out is None:
        raise InputError("an adversarially trained network is no feature network for FID: give --out")
    if limit is not None and out is None:  # a quick try must not replace the network that FID is measured under
        raise InputError("a network trained on part of the data is no shipped network: give --out")
    dataset = load_dataset(data, limit=limit)
    if dataset.kind == "clips":
        if adversarial_eps > 0 or architecture != "vgg":
            raise InputError(f"{data}: a clip feature network has one architecture and no adversarial training")
        return train_clip_feature_net(dataset, out or shipped_clip_path(data), epochs=epochs, seed=seed, quiet=quiet)[1]
    return train_feature_net(
        dataset,
        out or shipped_path(data, architecture),
        epochs=epochs,
        seed=seed,
        architecture=architecture,
        quiet=quiet,
        adversarial_eps=adversarial_eps,
        adversarial_steps=adversarial_steps,
    )[1]


def list_features() -> list[str]:
    """One JSON line per shipped network: its dataset, architecture and test accuracy."""
    return [json.dumps(row) for row in describe_shipped()]
