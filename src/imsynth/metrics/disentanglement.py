"""Disentanglement metrics on the ``shapes`` dataset, whose generative factors are known.

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

from ..data import shapes
from ..data.base import resize_uint8
from ..runtime.tensors import to_model


@torch.no_grad()
def _encode(model, factor_indices: np.ndarray, batch_size: int = 500) -> np.ndarray:
    device = next(model.parameters()).device
    image_size = model.config.image_size
    codes = []
    for start in range(0, len(factor_indices), batch_size):
        images = torch.from_numpy(shapes.render_shapes(factor_indices[start : start + batch_size])[:, None])
        if image_size != shapes.SIZE:
            images = resize_uint8(images, image_size)
        mean, _ = model.encode(to_model(images).to(device))
        codes.append(mean.float().cpu().numpy())
    return np.concatenate(codes)


def mutual_information_gap(model, *, samples: int = 10000, bins: int = 20, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    factors = shapes.sample_factors(samples, rng)
    codes = _encode(model, factors)
    discrete = np.stack([np.digitize(c, np.histogram(c, bins)[1][:-1]) for c in codes.T])
    mutual = np.array([[mutual_info_score(factor, code) for factor in factors.T] for code in discrete])
    entropy = np.array([mutual_info_score(factor, factor) for factor in factors.T])
    ordered = np.sort(mutual, axis=0)[::-1]
    return float(np.mean((ordered[0] - ordered[1]) / entropy))


def factor_vae_score(model, *, train_votes: int = 800, eval_votes: int = 800, batch: int = 64, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    reference = _encode(model, shapes.sample_factors(10000, rng))
    scale = reference.std(axis=0)
    active = scale > 0.05  # collapsed latents carry no information and would win every vote by noise

    def votes(count: int) -> np.ndarray:
        rows = []
        for _ in range(count):
            factor = int(rng.integers(len(shapes.FACTOR_SIZES)))
            indices = shapes.sample_factors(batch, rng)
            indices[:, factor] = rng.integers(shapes.FACTOR_SIZES[factor])
            variance = (_encode(model, indices) / np.where(scale > 0, scale, 1)).var(axis=0)
            variance[~active] = np.inf
            rows.append((int(np.argmin(variance)), factor))
        return np.array(rows)

    if not active.any():
        return 1.0 / len(shapes.FACTOR_SIZES)
    train = votes(train_votes)
    table = np.zeros((len(scale), len(shapes.FACTOR_SIZES)), dtype=np.int64)
    np.add.at(table, (train[:, 0], train[:, 1]), 1)
    classifier = table.argmax(axis=1)
    evaluation = votes(eval_votes)
    return float(np.mean(classifier[evaluation[:, 0]] == evaluation[:, 1]))
