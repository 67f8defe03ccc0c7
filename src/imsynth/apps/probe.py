"""Linear probes: how much class information a model learnt without labels.

A logistic-regression classifier is fit on frozen features of a labelled train subset and scored on the
test split. For a GAN the features are its discriminator's last feature map (average-pooled to 2x2); for a
VAE, the posterior mean. Two references are measured in the same run: the same network with random
weights (what the architecture gives for free) and raw pixels.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from ..data import load_dataset
from ..errors import InputError
from ..models import Representation, build_model, load_run
from ..runtime.tensors import to_model


@torch.no_grad()
def _features(function, images: torch.Tensor, device, batch_size: int = 500) -> np.ndarray:
    chunks = []
    for start in range(0, len(images), batch_size):
        chunks.append(function(to_model(images[start : start + batch_size]).to(device)).float().cpu())
    return torch.cat(chunks).numpy()


def fit_linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *, seed: int = 0
) -> float:
    """Test accuracy of a standardised multinomial logistic regression."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1, random_state=seed))
    probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def representation_function(model):
    if not isinstance(model, Representation):
        raise InputError(f"model {model.registered_name!r} offers no features to probe")
    return model.represent


def linear_probe(
    run, *, train_images: int = 10000, test_images: int = 10000, seed: int = 0, device: str = "auto"
) -> dict:
    """Probe accuracies of the trained model's features, the same network untrained, and raw pixels."""
    if train_images < 10 or test_images < 10:
        raise InputError("a probe needs at least 10 train and 10 test images")
    started = time.perf_counter()
    model, saved = load_run(run, device=device)
    device_of_model = next(model.parameters()).device
    dataset = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
    if dataset.train_labels is None:
        raise InputError(f"dataset {dataset.name!r} has no labels to probe against")
    generator = torch.Generator().manual_seed(seed)
    train_index = torch.randperm(len(dataset.train_images), generator=generator)[:train_images]
    train_x, train_y = dataset.train_images[train_index], dataset.train_labels[train_index].numpy()
    test_x, test_y = dataset.test_images[:test_images], dataset.test_labels[:test_images].numpy()
    torch.manual_seed(seed)
    untrained = build_model(saved["model"], model.config).to(device_of_model).eval()
    report = {
        "run": str(run),
        "model": saved["model"],
        "data": dataset.name,
        "train_images": len(train_x),
        "test_images": len(test_x),
    }
    kinds = (
        ("trained", representation_function(model)),
        ("random_init", representation_function(untrained)),
        ("raw_pixels", lambda images: images.flatten(1)),
    )
    for name, function in tqdm(kinds, desc="linear probes", unit="probe", disable=not sys.stderr.isatty()):
        features_train = _features(function, train_x, device_of_model)
        features_test = _features(function, test_x, device_of_model)
        report[name] = {
            "accuracy": fit_linear_probe(features_train, train_y, features_test, test_y, seed=seed),
            "feature_dim": int(features_train.shape[1]),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
