"""Convolutions with a tiny output map and many output channels as one matrix multiply, on the CPU.

oneDNN's convolution backward is slow when a wide convolution produces a 1x1 or 2x2 map (the end of a DCGAN-style
encoder or discriminator trunk): measured here at 27 GFLOP/s for 512->1024 channels, 3x3 -> 1x1, against ~400 for
a plain bf16 matmul. Unfolding the input (im2col) and multiplying by the weight matrix gives the same result and
routes the backward through GEMMs. Measured forward+backward speed-ups (bf16, batch 128, 2 cores): 3.1x for
512->1024 3x3->1x1, 4.8x for 1024->1024 3x3->1x1, 1.9x for 256->512 4x4->1x1, 1.1x for 512->1024 -> 2x2;
but 0.2-0.75x for maps of 3x3 or larger, and 0.3x for 1-channel heads, hence the rule in ``_uses_matmul``.
The module's parameters and state dict are untouched; only its forward is replaced.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

MAX_OUTPUT_PIXELS = 4
MIN_OUTPUT_CHANNELS = 128


def _output_side(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _uses_matmul(conv: nn.Conv2d, output_pixels: int) -> bool:
    return output_pixels <= MAX_OUTPUT_PIXELS and conv.out_channels >= MIN_OUTPUT_CHANNELS


def _unfold_or_conv(self: nn.Conv2d, images: torch.Tensor) -> torch.Tensor:
    height = _output_side(images.shape[-2], self.kernel_size[0], self.stride[0], self.padding[0])
    width = _output_side(images.shape[-1], self.kernel_size[1], self.stride[1], self.padding[1])
    if not _uses_matmul(self, height * width):
        return self._conv_forward(images, self.weight, self.bias)
    columns = F.unfold(images, self.kernel_size, padding=self.padding, stride=self.stride)  # (B, C*kh*kw, L)
    weight = self.weight.reshape(self.out_channels, -1)
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        columns, weight = columns.to(dtype), weight.to(dtype)
    output = torch.matmul(weight, columns)  # (B, C_out, L)
    if self.bias is not None:
        output = output + self.bias.to(output.dtype)[:, None]
    return output.reshape(images.shape[0], self.out_channels, height, width)


def _matmul_or_transposed_conv(self: nn.ConvTranspose2d, images: torch.Tensor, output_size=None) -> torch.Tensor:
    """A transposed convolution of a 1x1 map (a DCGAN generator's first layer) is one matrix product:
    (B, C_in) @ (C_in, C_out*kh*kw). oneDNN runs it at ~36 GFLOP/s; as a matmul it is 3.6x faster (bf16,
    batch 64, 100 -> 256 x 4x4, forward+backward)."""
    if images.shape[-2:] != (1, 1) or output_size is not None:
        return nn.ConvTranspose2d.forward(self, images, output_size)
    weight = self.weight.reshape(self.in_channels, -1)
    vectors = images.reshape(images.shape[0], self.in_channels)
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        vectors, weight = vectors.to(dtype), weight.to(dtype)
    output = (vectors @ weight).view(images.shape[0], self.out_channels, *self.kernel_size)
    if self.bias is not None:
        output = output + self.bias.to(output.dtype)[:, None, None]
    return output


def use_matmul_for_small_convolutions(model: nn.Module) -> int:
    """Patch every eligible ``nn.Conv2d`` and 1x1-input ``nn.ConvTranspose2d`` in ``model``; returns how many."""
    patched = 0
    for module in model.modules():
        if (
            type(module) is nn.Conv2d
            and module.groups == 1
            and module.dilation == (1, 1)
            and module.padding_mode == "zeros"
            and isinstance(module.padding, tuple)
        ):
            module.forward = types.MethodType(_unfold_or_conv, module)
            patched += 1
        elif (
            type(module) is nn.ConvTranspose2d
            and module.groups == 1
            and module.dilation == (1, 1)
            and module.padding == (0, 0)
            and module.output_padding == (0, 0)
        ):
            module.forward = types.MethodType(_matmul_or_transposed_conv, module)
            patched += 1
    return patched
