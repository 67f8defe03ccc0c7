import copy

import pytest
import torch
from torch import nn

from imsynth.train.fastconv import use_matmul_for_small_convolutions


@pytest.mark.parametrize("size, kernel, stride, padding", [(3, 4, 2, 1), (4, 4, 1, 0), (7, 3, 2, 1), (16, 3, 1, 1)])
def test_patched_convolution_matches_the_original_values_and_gradients(size, kernel, stride, padding):
    torch.manual_seed(0)
    original = nn.Sequential(nn.Conv2d(6, 5, kernel, stride, padding), nn.ReLU(), nn.Conv2d(5, 3, 1))
    patched = copy.deepcopy(original)
    assert use_matmul_for_small_convolutions(patched) == 2
    assert patched.state_dict().keys() == original.state_dict().keys()
    images = torch.randn(4, 6, size, size)
    expected, got = original(images), patched(images)
    assert torch.allclose(expected, got, atol=1e-5)
    expected.square().sum().backward()
    got.square().sum().backward()
    for a, b in zip(original.parameters(), patched.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-4)


def test_patched_convolution_under_bf16_autocast():
    conv = nn.Conv2d(8, 4, 4, 2, 1)
    reference = conv(torch.ones(2, 8, 3, 3))
    use_matmul_for_small_convolutions(conv)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(torch.ones(2, 8, 3, 3))
    assert out.dtype == torch.bfloat16 and torch.allclose(out.float(), reference, atol=0.05)
