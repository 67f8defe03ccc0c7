"""Convolutional encoders and decoders that adapt to the image size (8 to 64+ px), the restoration head, and the
fixed random multi-scale features that style transfer matches Gram statistics of.

The number of stride-2 stages is the number of halvings that keep the feature map at least 4x4 and exact
(28 -> 14 -> 7: two; 64 -> 4: four; 8 -> 4: one), so decoders mirror encoders with no cropping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def stage_plan(image_size: int, width: int, max_width_multiplier: int = 8) -> tuple[list[int], int]:
    """Channel width of each resolution level (full resolution first) and the final spatial side."""
    widths, side = [width], image_size
    while side % 2 == 0 and side // 2 >= 4:
        side //= 2
        widths.append(width * min(2 ** len(widths), max_width_multiplier))
    return widths, side


class ConvEncoder(nn.Module):
    """images (B, C, H, W) [+ one-hot labels] -> vector (B, out_features).

    With ``latent_channels`` the head is a 1x1 convolution instead of a linear layer: the vector is a flattened
    (2 x latent_channels, side, side) map, channel-major, so its first half is a whole map (a mean's, say)."""

    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        width: int,
        out_features: int,
        num_classes: int = 0,
        activation: str = "silu",
        latent_channels: int = 0,
    ) -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width)
        act = ACTIVATIONS[activation]
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.Conv2d(channels + num_classes, widths[0], 3, padding=1), act()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [
                nn.Conv2d(w_in, w_out, 4, stride=2, padding=1),
                act(),
                nn.Conv2d(w_out, w_out, 3, padding=1),
                act(),
            ]
        self.features = nn.Sequential(*layers)
        self.spatial = bool(latent_channels)
        if latent_channels:
            assert out_features % (latent_channels * side * side) == 0, "out_features: a multiple of the map"
            self.head = nn.Conv2d(widths[-1], out_features // (side * side), 1)
        else:
            self.head = nn.Linear(widths[-1] * side * side, out_features)

    def forward(self, images: torch.Tensor, one_hot: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            label_planes = one_hot[:, :, None, None].expand(-1, -1, *images.shape[2:])
            images = torch.cat([images, label_planes.to(images.dtype)], dim=1)
        features = self.features(images)  # (B, widths[-1], side, side)
        return self.head(features).flatten(1) if self.spatial else self.head(features.flatten(1))


class ConvDecoder(nn.Module):
    """vector (B, in_features) [+ one-hot labels] -> images (B, C, H, W) (unbounded outputs).

    With ``latent_channels`` the vector is read as a (latent_channels, side, side) map (ConvEncoder's layout) and
    projected by a 3x3 convolution, so each latent position decodes its own neighbourhood: a spatial latent."""

    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        width: int,
        in_features: int,
        num_classes: int = 0,
        activation: str = "silu",
        latent_channels: int = 0,
    ) -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width)
        act = ACTIVATIONS[activation]
        self.side, self.top_width, self.latent_channels = side, widths[-1], latent_channels
        if latent_channels:
            assert in_features == latent_channels * side * side, "in_features: the latent map's size"
            self.project = nn.Sequential(nn.Conv2d(latent_channels + num_classes, widths[-1], 3, padding=1), act())
        else:
            self.project = nn.Sequential(nn.Linear(in_features + num_classes, widths[-1] * side * side), act())
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[::-1][:-1], widths[::-1][1:]):
            layers += [
                nn.Conv2d(w_in, w_in, 3, padding=1),
                act(),
                nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1),
                act(),
            ]
        layers += [nn.Conv2d(widths[0], widths[0], 3, padding=1), act(), nn.Conv2d(widths[0], channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def first_features(self, vector: torch.Tensor, one_hot: torch.Tensor | None = None) -> torch.Tensor:
        """The projection's output (B, top width, side, side): the first hidden layer."""
        if self.latent_channels:
            vector = vector.view(-1, self.latent_channels, self.side, self.side)
            if one_hot is not None:
                planes = one_hot[:, :, None, None].expand(-1, -1, self.side, self.side)
                vector = torch.cat([vector, planes.to(vector.dtype)], dim=1)
            return self.project(vector)
        if one_hot is not None:
            vector = torch.cat([vector, one_hot.to(vector.dtype)], dim=1)
        return self.project(vector).view(-1, self.top_width, self.side, self.side)

    def forward(self, vector: torch.Tensor, one_hot: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.first_features(vector, one_hot))


class RefineNet(nn.Module):
    """A two-level U-Net: (damaged image, first estimate) (B, 2C, H, W) -> a correction (B, C, H, W).

    Full-resolution detail the damaged image still holds (an unbroken edge beside a rain streak) passes through the
    skip connection; the half-resolution level sees 2x further for damage wider than a few pixels. Starts at zero
    output, so an untrained head leaves the first estimate unchanged."""

    def __init__(self, *, channels: int, width: int = 32, activation: str = "silu") -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.inner = nn.Sequential(
            nn.Conv2d(2 * channels, width, 3, padding=1), act(), nn.Conv2d(width, width, 3, padding=1), act()
        )
        self.down = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            act(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=2, dilation=2),
            act(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            act(),
        )
        self.up = nn.Conv2d(2 * width, width, 3, padding=1)
        self.out = nn.Sequential(
            nn.Conv2d(2 * width, width, 3, padding=1), act(), nn.Conv2d(width, channels, 3, padding=1)
        )
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, damaged: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        skip = self.inner(torch.cat([damaged, estimate.to(damaged.dtype)], dim=1))
        coarse = self.up(self.down(skip))
        coarse = nn.functional.interpolate(coarse, size=skip.shape[-2:], mode="nearest")
        return self.out(torch.cat([skip, coarse], dim=1))


class RandomFeatures(nn.Module):
    """Random single-layer features at ``scales`` pyramid levels (filter side 3 at full size, 5 below)."""

    def __init__(self, channels: int, *, width: int = 128, scales: int = 4, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList()
        for level in range(scales):
            side = 3 if level == 0 else 5
            conv = nn.Conv2d(channels, width, side, padding=side // 2, padding_mode="replicate")
            with torch.no_grad():
                fan_in = channels * side * side
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2 / fan_in) ** 0.5)
                conv.bias.copy_(torch.randn(width, generator=generator) * 0.1)
            conv.requires_grad_(False)
            self.layers.append(conv)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        features, level_input = [], images - 0.5  # centred, as the random filters expect zero-mean input
        for level, conv in enumerate(self.layers):
            if level:
                level_input = F.avg_pool2d(level_input, 2, ceil_mode=True)
            features.append(F.relu(conv(level_input)))
        return features


def gram(features: torch.Tensor) -> torch.Tensor:
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def band_matrix(taps: torch.Tensor, size: int) -> torch.Tensor:
    """Kernels (..., S) -> (..., size, size) matrices T with T[i, j] = taps[j - i + S // 2] inside the band and 0
    outside, so that ``x @ T.mT`` is the cross-correlation of x's last axis with the kernel, zero-padded."""
    width = taps.shape[-1]
    padded = F.pad(taps, (size - 1 - width // 2, size - 1 - (width - 1 - width // 2)))
    # windows [a, j] = padded[a + j]; row i = size - 1 - a reads padded[size - 1 - i + j] = taps[j - i + S // 2]
    return padded.unfold(-1, size, 1).flip(-2)


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Differentiable SSIM (Wang et al. 2004) of images in [0, 1], (N, C, H, W) -> (N,): a Gaussian window over
    the positions it fits inside, as scikit-image's ``gaussian_weights=True``. The windowed means are two
    matrix products with a banded matrix per axis: forward and backward on 224 64x64 frames, 2 threads, 4.0x
    faster than grouped separable convolutions and 37-41x faster than torchmetrics' SSIM (benchmarks/ssim_loss.py);
    a training loss pays it at every step."""
    window = min(window, a.shape[-1] - (1 - a.shape[-1] % 2), a.shape[-2] - (1 - a.shape[-2] % 2))
    taps = torch.exp(-((torch.arange(window, dtype=a.dtype) - window // 2) ** 2) / (2 * sigma**2))
    half = window // 2  # the windowed means where the whole window fits: the middle of a zero-padded filtering
    across = band_matrix(taps / taps.sum(), a.shape[-1])[half : a.shape[-1] - half]
    down = band_matrix(taps / taps.sum(), a.shape[-2])[half : a.shape[-2] - half]
    means = down @ (torch.stack([a, b, a * a, b * b, a * b]) @ across.mT)
    mean_a, mean_b, square_a, square_b, product = means
    var_a, var_b = square_a - mean_a**2, square_b - mean_b**2
    c1, c2 = 0.01**2, 0.03**2
    index = (2 * mean_a * mean_b + c1) * (2 * (product - mean_a * mean_b) + c2)
    index = index / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    return index.mean(dim=(1, 2, 3))
