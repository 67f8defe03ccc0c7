"""In-domain feature networks: small CNN classifiers whose penultimate layer gives features for FID, KID
and precision/recall, since Inception weights cannot be downloaded here.

Weights for ``fashion-mnist`` and ``digits`` ship in ``imsynth/metrics/weights`` (safetensors, with the test
accuracy in the file's metadata); ``imsynth features train --data NAME`` makes them for any labelled dataset.
Every figure computed with these features names the network it used (``feature_net`` in the output).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data import ImageDataset
from ..errors import DataError
from ..runtime import runs as ckpt
from ..runtime.attacks import ZeroOne, pgd
from ..runtime.classifier import (  # noqa: F401  (load_feature_net, shipped_path: re-exported for metrics users)
    FEATURE_DIM,
    INPUT_SIZE,
    WEIGHTS_DIR,
    FeatureNet,
    load_feature_net,
    shipped_path,
)
from ..runtime.device import autocast_context, resolve_precision
from ..runtime.tensors import to_model


def _augment(images: torch.Tensor, generator: torch.Generator, flip: bool) -> torch.Tensor:
    """Random shifts of up to 2 px (reflect padding) and, for datasets where it is valid, horizontal flips."""
    batch, _, height, width = images.shape
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    dx, dy = torch.randint(0, 5, (2,), generator=generator).tolist()
    shifted = padded[:, :, dy : dy + height, dx : dx + width]
    if flip:
        mask = torch.rand(batch, generator=generator) < 0.5
        shifted = torch.where(mask[:, None, None, None], shifted.flip(-1), shifted)
    return shifted


def fit_classifier(
    net: torch.nn.Module,
    count: int,
    loss_of: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    precision: str,
    desc: str,
    quiet: bool,
) -> None:
    """The one training loop of the shipped networks (image and clip): shuffled batches of indices into a train
    split of ``count`` rows, ``loss_of(indices, generator)`` under autocast, AdamW with weight decay and a
    one-cycle learning rate, a progress bar."""
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, count // batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    device = torch.device("cpu")
    precision = resolve_precision(precision, device)
    with tqdm(total=epochs * steps_per_epoch, desc=desc, disable=quiet, unit="step") as bar:
        for _ in range(epochs):
            net.train()
            order = torch.randperm(count, generator=generator)
            for index in range(steps_per_epoch):
                with autocast_context(device, precision):
                    loss = loss_of(order[index * batch_size : (index + 1) * batch_size], generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")


@torch.no_grad()
def accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    net.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = net(to_model(images[start : start + batch_size]))
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def train_feature_net(
    dataset: ImageDataset,
    out: str | Path | None = None,
    *,
    epochs: int = 12,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    flip: bool | None = None,
    precision: str = "auto",
    quiet: bool = False,
    adversarial_eps: float = 0.0,
    adversarial_steps: int = 7,
    architecture: str = "vgg",
) -> tuple[FeatureNet, dict]:
    """Train the classifier on the train split, report test accuracy, save weights (atomically).

    ``adversarial_eps`` > 0: PGD adversarial training (Madry et al. 2018) - every batch is replaced by L-inf PGD
    examples (``adversarial_steps`` steps, random start, eps on the 0-1 scale) against the current network; the
    robust baseline purification defences are compared with."""
    if dataset.train_labels is None or not dataset.num_classes:
        raise DataError(f"{dataset.name}: a feature network needs class labels, and this dataset has none")
    torch.manual_seed(seed)
    flip = dataset.name != "digits" if flip is None else flip  # flipped digits are other symbols
    net = FeatureNet(channels=dataset.channels, num_classes=dataset.num_classes, architecture=architecture)
    net = net.to(memory_format=torch.channels_last)
    device = torch.device("cpu")

    def loss_of(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        images = _augment(to_model(dataset.train_images[batch]), generator, flip)
        if adversarial_eps > 0:
            net.eval()  # batch-norm statistics of clean images while attacking (as in Madry et al.'s code)
            with autocast_context(device, resolve_precision(precision, device)):
                examples = pgd(
                    ZeroOne(net), (images + 1) / 2, dataset.train_labels[batch], eps=adversarial_eps,
                    steps=adversarial_steps, seed=int(torch.randint(0, 2**31, (1,), generator=generator)),
                )  # fmt: skip
            images = examples * 2 - 1
            net.train()
        logits = net(images.contiguous(memory_format=torch.channels_last))
        return F.cross_entropy(logits, dataset.train_labels[batch], label_smoothing=0.1)

    started = time.perf_counter()
    fit_classifier(
        net, len(dataset.train_images), loss_of, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        precision=precision, desc=f"feature net {dataset.name}", quiet=quiet,
    )  # fmt: skip
    test_accuracy = accuracy(net, dataset.test_images, dataset.test_labels)
    info = {
        "name": f"imsynth-featurenet-{dataset.name}" + ("" if architecture == "vgg" else f"-{architecture}"),
        "dataset": dataset.name,
        "architecture": architecture,
        "seed": seed,
        "test_accuracy": test_accuracy,
        "channels": dataset.channels,
        "num_classes": dataset.num_classes,
        "epochs": epochs,
        "train_seconds": round(time.perf_counter() - started, 1),
        "input_size": INPUT_SIZE,
    }
    if adversarial_eps > 0:
        info.update(adversarial_eps=adversarial_eps, adversarial_steps=adversarial_steps)
    if out is not None:
        out = Path(out)
        ckpt.write_tensors(out, net.state_dict(), metadata={k: str(v) for k, v in info.items()})
        ckpt.write_json(out.with_suffix(".json"), info)
    return net, info


@torch.no_grad()
def extract_features(net: FeatureNet, images: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """Features (N, 128) of uint8 NCHW or float [-1, 1] NCHW images."""
    net.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        batch = to_model(batch) if batch.dtype == torch.uint8 else batch.float()
        chunks.append(net.features(batch).float())
    return torch.cat(chunks) if chunks else torch.zeros(0, FEATURE_DIM)


def describe_shipped() -> list[dict]:
    rows = []
    for path in sorted(WEIGHTS_DIR.glob("*.json")):
        rows.append(json.loads(path.read_text()))
    return rows
