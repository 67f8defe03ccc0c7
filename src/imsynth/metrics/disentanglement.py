"""Disentanglement metrics on data whose generative factors are known (a dataset's ``Factors``: ``shapes``).

- MIG (Chen et al. 2018): for each factor, the gap between the two latents with the highest mutual
  information with it, normalised by the factor's entropy; averaged over factors.
- FactorVAE score (Kim & Mnih 2018): fix one factor, let the rest vary, find the latent with the least
  (normalised) variance; a majority-vote classifier from that latent to the fixed factor; its accuracy.
The model must offer ``encode(images) -> (mean, log_var)``; means are used as the representation.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import mutual_info_score

from ..data.base import Factors, resize_uint8
from ..runtime.tensors import to_model


@torch.no_grad()
def _encode(model, source: Factors, factor_indices: np.ndarray, batch_size: int = 500) -> np.ndarray:
    device = next(model.parameters()).device
    codes = []
    for start in range(0, len(factor_indices), batch_size):
        images = resize_uint8(
            torch.from_numpy(source.render(factor_indices[start : start + batch_size])), model.config.image_size
        )
        mean, _ = model.encode(to_model(images).to(device))
        codes.append(mean.float().cpu().numpy())
    return np.concatenate(codes)


def mutual_information_gap(model, source: Factors, *, samples: int = 10000, bins: int = 20, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    factors = source.sample(samples, rng)
    codes = _encode(model, source, factors)
    discrete = np.stack([np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in codes.T])
    mutual = np.array([[mutual_info_score(factor, code) for factor in factors.T] for code in discrete])
    entropy = np.array([mutual_info_score(factor, factor) for factor in factors.T])
    ordered = np.sort(mutual, axis=0)[::-1]
    return float(np.mean((ordered[0] - ordered[1]) / entropy))


def factor_vae_score(
    model, source: Factors, *, train_votes: int = 800, eval_votes: int = 800, batch: int = 64, seed: int = 0
) -> float:
    rng = np.random.default_rng(seed)
    reference = _encode(model, source, source.sample(10000, rng))
    scale = reference.std(axis=0)
    active = scale > 0.05  # collapsed latents carry no information and would win every vote by noise

    def votes(count: int) -> np.ndarray:
        rows = []
        for _ in range(count):
            factor = int(rng.integers(len(source.sizes)))
            indices = source.sample(batch, rng)
            indices[:, factor] = rng.integers(source.sizes[factor])
            variance = (_encode(model, source, indices) / np.where(scale > 0, scale, 1)).var(axis=0)
            variance[~active] = np.inf
            rows.append((int(np.argmin(variance)), factor))
        return np.array(rows)

    if not active.any():
        return 1.0 / len(source.sizes)
    train = votes(train_votes)
    table = np.zeros((len(scale), len(source.sizes)), dtype=np.int64)
    np.add.at(table, (train[:, 0], train[:, 1]), 1)
    classifier = table.argmax(axis=1)
    evaluation = votes(eval_votes)
    return float(np.mean(classifier[evaluation[:, 0]] == evaluation[:, 1]))
