import pytest
import torch

from imsynth.metrics.generative import frechet_distance, kernel_distance, precision_recall_density_coverage


def gaussian(count, dim, shift=0.0, seed=0):
    return torch.randn(count, dim, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_matches_the_closed_form_for_shifted_gaussians():
    real, fake = gaussian(20000, 4, seed=0), gaussian(20000, 4, shift=1.5, seed=1)
    assert frechet_distance(real, fake) == pytest.approx(4 * 1.5**2, rel=0.05)
    assert frechet_distance(real, gaussian(20000, 4, seed=2)) < 0.01


def test_kid_is_near_zero_for_one_distribution_and_grows_with_distance():
    real = gaussian(2000, 8, seed=0)
    same, _ = kernel_distance(real, gaussian(2000, 8, seed=1), subset_size=500)
    near, _ = kernel_distance(real, gaussian(2000, 8, shift=0.5, seed=1), subset_size=500)
    far, _ = kernel_distance(real, gaussian(2000, 8, shift=2.0, seed=1), subset_size=500)
    assert abs(same) < 0.02 and same < near < far


def test_knn_metrics_on_identical_disjoint_and_collapsed_sets():
    real = gaussian(500, 8)
    identical = precision_recall_density_coverage(real, real.clone())
    assert identical["precision"] == identical["recall"] == identical["coverage"] == 1.0
    same = precision_recall_density_coverage(gaussian(2000, 8, seed=1), gaussian(2000, 8, seed=2))
    assert same["density"] == pytest.approx(1.0, abs=0.15)  # Naeem et al.: E[density] = 1 for one distribution
    assert min(same["precision"], same["recall"], same["coverage"]) > 0.8
    far = precision_recall_density_coverage(real, real + 100.0)
    assert far["precision"] == far["recall"] == far["coverage"] == far["density"] == 0.0
    collapsed = precision_recall_density_coverage(real, real[:1].repeat(500, 1) + 1e-3 * gaussian(500, 8, seed=3))
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.05 and collapsed["coverage"] < 0.05
