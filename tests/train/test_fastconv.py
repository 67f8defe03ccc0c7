import copy

import pytest
import torch
from torch import nn

from imsynth.train import fastconv
from imsynth.train.fastconv import use_matmul_for_small_convolutions


@pytest.mark.parametrize(
    "size, kernel, stride, padding, out_channels, matmul",
    [
        (3, 4, 2, 1, 128, True),  # 3x3 -> 1x1, wide: the slow oneDNN case
        (4, 3, 2, 1, 128, True),  # -> 2x2
        (4, 4, 1, 0, 4, False),  # a 1-channel-like head stays native
        (7, 3, 2, 1, 128, False),  # -> 4x4 stays native
    ],
)
def test_patched_convolution_matches_the_original_values_and_gradients(
    monkeypatch, size, kernel, stride, padding, out_channels, matmul
):
    torch.manual_seed(0)
    original = nn.Sequential(
        nn.Conv2d(6, out_channels, kernel, stride, padding), nn.ReLU(), nn.Conv2d(out_channels, 3, 1)
    )
    patched = copy.deepcopy(original)
    assert use_matmul_for_small_convolutions(patched) == 2
    assert patched.state_dict().keys() == original.state_dict().keys()
    unfolds = []
    real_unfold = fastconv.F.unfold
    monkeypatch.setattr(fastconv.F, "unfold", lambda *a, **k: unfolds.append(1) or real_unfold(*a, **k))
    images = torch.randn(4, 6, size, size)
    expected, got = original(images), patched(images)
    assert bool(unfolds) == matmul
    assert torch.allclose(expected, got, atol=1e-5)
    expected.square().sum().backward()
    got.square().sum().backward()
    for a, b in zip(original.parameters(), patched.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-4, rtol=1e-4)


def test_patched_convolution_under_bf16_autocast():
    conv = nn.Conv2d(8, 128, 4, 2, 1)
    reference = conv(torch.ones(2, 8, 3, 3))
    use_matmul_for_small_convolutions(conv)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(torch.ones(2, 8, 3, 3))
    assert out.dtype == torch.bfloat16 and torch.allclose(out.float(), reference, atol=0.05)


@pytest.mark.parametrize("bias", [True, False])
def test_transposed_convolution_of_a_1x1_map_as_matmul_matches_values_and_gradients(bias):
    torch.manual_seed(0)
    original = nn.ConvTranspose2d(10, 16, 4, 1, 0, bias=bias)
    patched = copy.deepcopy(original)
    assert use_matmul_for_small_convolutions(patched) == 1
    codes = torch.randn(5, 10, 1, 1)
    expected, got = original(codes), patched(codes)
    assert got.shape == (5, 16, 4, 4) and torch.allclose(expected, got, atol=1e-5)
    expected.square().sum().backward()
    got.square().sum().backward()
    for a, b in zip(original.parameters(), patched.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-4, rtol=1e-4)
    larger = torch.randn(2, 10, 3, 3)  # not a 1x1 map: the native path
    assert torch.allclose(original(larger), patched(larger), atol=1e-6)
