"""Sample-quality metrics on feature vectors: FID, KID, precision/recall (k-NN manifolds) and
density/coverage.

Fréchet and kernel distances use torchmetrics' implementations (fed precomputed features through an
identity extractor, so features are computed once and reused); the k-NN metrics follow Kynkäänniemi et al.
2019 (precision/recall) and Naeem et al. 2020 (density/coverage).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ..errors import InputError


class _Precomputed(nn.Module):
    """An identity 'feature extractor' so torchmetrics accepts features we already have."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID between two feature sets (N x D each)."""
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kernel_distance(
    real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 50, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two feature sets, cubic polynomial kernel."""
    subset_size = min(subset_size, len(real), len(fake))
    torch.manual_seed(seed)  # torchmetrics draws its subsets from the global generator
    with warnings.catch_warnings():  # its memory warning is about images; we feed small feature vectors
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=subset_size)
    metric.update(real.float(), real=True)
    metric.update(fake.float(), real=False)
    mean, std = metric.compute()
    return float(mean), float(std)


def _kth_neighbour_radius(features: torch.Tensor, k: int) -> torch.Tensor:
    distances = torch.cdist(features, features)
    return distances.kthvalue(k + 1, dim=1).values  # +1 skips the point itself


def precision_recall_density_coverage(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> dict[str, float]:
    """k-NN manifold metrics (k=3 by default, as in both papers' recommended settings for this size)."""
    if min(len(real), len(fake)) <= k:
        raise InputError(
            f"the k-nearest-neighbour metrics (k={k}) need more than {k} images in each set; got {len(real)} real "
            f"and {len(fake)} generated (use --n {k + 1} or more)"
        )
    real, fake = real.float(), fake.float()
    real_radius = _kth_neighbour_radius(real, k)
    fake_radius = _kth_neighbour_radius(fake, k)
    real_to_fake = torch.cdist(real, fake)  # (N_real, N_fake)
    inside_real = real_to_fake <= real_radius[:, None]  # fake j inside real i's ball
    precision = inside_real.any(dim=0).float().mean()
    recall = (real_to_fake <= fake_radius[None, :]).any(dim=1).float().mean()
    density = inside_real.sum(dim=0).float().mean() / k
    coverage = (real_to_fake.min(dim=1).values <= real_radius).float().mean()
    return {
        "precision": float(precision),
        "recall": float(recall),
        "density": float(density),
        "coverage": float(coverage),
        "k": k,
    }


def compare_features(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> dict[str, float]:
    """Every sample-quality metric between a reference set and a generated set of features."""
    kid_mean, kid_std = kernel_distance(real, fake)
    return {
        "fid": frechet_distance(real, fake),
        "kid": kid_mean,
        "kid_std": kid_std,
        **precision_recall_density_coverage(real, fake, k=k),
    }
