import torch

from imsynth.data.shapes import FACTORS
from imsynth.metrics.disentanglement import factor_vae_score, mutual_information_gap


class CentroidEncoder(torch.nn.Module):
    """A hand-made 'encoder' whose first three codes are the shape's x, y and area, then noise."""

    def __init__(self, informative: bool) -> None:
        super().__init__()
        self.informative = informative
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = type("Config", (), {"image_size": 64})()

    def encode(self, images):
        weights = (images + 1) / 2
        mass = weights.sum(dim=(1, 2, 3)) + 1e-6
        axis = torch.arange(64.0)
        x = (weights.sum(dim=2)[:, 0] * axis).sum(1) / mass
        y = (weights.sum(dim=3)[:, 0] * axis).sum(1) / mass
        noise = torch.randn(len(images), 3)
        codes = torch.stack([x, y, mass], 1) if self.informative else torch.randn(len(images), 3)
        return torch.cat([codes, noise], 1), torch.zeros(len(images), 6)


def test_mig_rewards_a_code_aligned_with_factors():
    torch.manual_seed(0)
    aligned = mutual_information_gap(CentroidEncoder(True), FACTORS, samples=2000)
    random = mutual_information_gap(CentroidEncoder(False), FACTORS, samples=2000)
    assert aligned > 0.25 and random < 0.05


def test_factor_vae_score_rewards_a_code_aligned_with_factors():
    torch.manual_seed(0)
    aligned = factor_vae_score(CentroidEncoder(True), FACTORS, train_votes=100, eval_votes=100, batch=32)
    random = factor_vae_score(CentroidEncoder(False), FACTORS, train_votes=100, eval_votes=100, batch=32)
    assert aligned > random + 0.2
