import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from imsynth.models.networks import ssim


def _reference(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    return [
        structural_similarity(
            x[0].numpy(), y[0].numpy(), data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        for x, y in zip(a.double(), b.double())
    ]


@pytest.mark.parametrize("shape", [(3, 1, 64, 64), (2, 1, 28, 40)])
def test_ssim_is_scikit_images_gaussian_ssim_and_has_a_gradient(shape):
    torch.manual_seed(0)
    truth = torch.rand(shape)
    square = torch.zeros(shape)
    square[..., 8:20, 10:24] = 1
    for guess, target in ((truth, (truth + 0.3 * torch.randn(shape)).clamp(0, 1)), (square, square.roll(3, -1))):
        guess = guess.clone().requires_grad_()
        ours = ssim(guess, target)
        assert np.allclose(ours.detach().numpy(), _reference(guess.detach(), target), atol=1e-5)
        ours.sum().backward()
        assert guess.grad.abs().sum() > 0
    assert torch.allclose(ssim(truth, truth), torch.ones(shape[0]))
    # a blur of a shifted item scores below the item, sharp, in the right place, and above nothing at all
    blurred = torch.nn.functional.avg_pool2d(square.roll(2, -1), 5, stride=1, padding=2)
    assert ssim(square, square).min() > ssim(blurred, square).max() > ssim(torch.zeros(shape), square).max()
