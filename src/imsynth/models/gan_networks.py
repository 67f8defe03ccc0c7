"""Generators and discriminators for 8-64 px images: DCGAN-style and ResNet (SNGAN-style).

Sizes follow ``stage_plan`` (28 -> 14 -> 7, 32 -> 4, 64 -> 4), so one definition serves MNIST-like and
CIFAR-like shapes. Generators end in tanh ([-1, 1]); their hidden activation is selectable (relu,
leaky_relu, tanh). Class-conditional generators concatenate a learned class embedding to z and, with batch
norm, use class-conditional gains and biases; conditional discriminators add a projection term
(Miyato & Koyama 2018): logit = linear(h) + <embed(y), h>.
Discriminators expose ``features(x)`` (frozen features for linear probes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .networks import ACTIVATIONS, stage_plan


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose affine gain and bias are picked by class (plain affine BN without classes)."""

    def __init__(self, features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.norm = nn.BatchNorm2d(features, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, features)
            self.bias = nn.Embedding(num_classes, features)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(x)
        if self.num_classes:
            x = x * self.gain(labels)[:, :, None, None].to(x.dtype) + self.bias(labels)[:, :, None, None].to(x.dtype)
        return x


def _norm(kind: str, features: int, num_classes: int) -> nn.Module:
    return ConditionalBatchNorm(features, num_classes) if kind == "batch" else nn.Identity()


def _apply_norm(norm: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return norm(x, labels) if isinstance(norm, ConditionalBatchNorm) else norm(x)


class _Generator(nn.Module):
    """z (B, latent) [+ labels] -> first feature map; shared by both generator kinds."""

    def __init__(self, *, latent_dim: int, image_size: int, width: int, num_classes: int, max_multiplier: int) -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width, max_multiplier)
        self.widths, self.side, self.num_classes = widths[::-1], side, num_classes  # coarse first
        embed_dim = min(latent_dim, 64) if num_classes else 0
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.project = nn.Linear(latent_dim + embed_dim, self.widths[0] * side * side)

    def first_map(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        return self.project(z).view(len(z), self.widths[0], self.side, self.side)


class DCGANGenerator(_Generator):
    def __init__(
        self,
        *,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int = 64,
        activation: str = "relu",
        norm: str = "batch",
        num_classes: int = 0,
    ) -> None:
        super().__init__(
            latent_dim=latent_dim, image_size=image_size, width=width, num_classes=num_classes, max_multiplier=8
        )
        act = ACTIVATIONS[activation]
        classes = num_classes
        self.norm0 = _norm(norm, self.widths[0], classes)
        self.act = act()
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1, bias=norm != "batch")
            for w_in, w_out in zip(self.widths[:-1], self.widths[1:])
        )
        self.norms = nn.ModuleList(_norm(norm, w_out, classes) for w_out in self.widths[1:])
        self.to_image = nn.Conv2d(self.widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.act(_apply_norm(self.norm0, self.first_map(z, labels), labels))
        for up, norm in zip(self.ups, self.norms):
            x = self.act(_apply_norm(norm, up(x), labels))
        return torch.tanh(self.to_image(x))


def _maybe_sn(module: nn.Module, use: bool) -> nn.Module:
    return spectral_norm(module) if use else module


class _Discriminator(nn.Module):
    """Shared head: the last feature map -> logit (+ projection of the class embedding on pooled features).

    ``flatten_head``: a linear map of the whole flattened map (DCGAN: a shallow trunk must still see the
    layout); otherwise of the positions' sum (SNGAN: deep trunk, spectral norm bounds the scale).
    """

    flatten_head = False

    def _init_head(self, features: int, side: int, num_classes: int, sn: bool) -> None:
        inputs = features * side * side if self.flatten_head else features
        self.linear = _maybe_sn(nn.Linear(inputs, 1), sn)
        self.projection = _maybe_sn(nn.Embedding(num_classes, features), sn) if num_classes else None

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.trunk(images)
        if self.flatten_head:
            logit = self.linear(features.flatten(1)).squeeze(1)
            pooled = features.mean(dim=(2, 3))
        else:
            pooled = features.sum(dim=(2, 3))
            logit = self.linear(pooled).squeeze(1)
        if self.projection is not None:
            logit = logit + (self.projection(labels).to(pooled.dtype) * pooled).sum(dim=1)
        return logit

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen features for probes: the last feature map average-pooled to 2x2, flattened."""
        return F.adaptive_avg_pool2d(self.trunk(images).float(), 2).flatten(1)


class DCGANDiscriminator(_Discriminator):
    flatten_head = True

    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        width: int = 64,
        activation: str = "leaky_relu",
        norm: str = "none",
        spectral: bool = False,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width)
        act = ACTIVATIONS[activation]
        layers: list[nn.Module] = [_maybe_sn(nn.Conv2d(channels, widths[0], 3, padding=1), spectral), act()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers.append(_maybe_sn(nn.Conv2d(w_in, w_out, 4, stride=2, padding=1, bias=norm != "batch"), spectral))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(w_out))
            layers.append(act())
        self.body = nn.Sequential(*layers)
        self._init_head(widths[-1], side, num_classes, spectral)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class ResNetGeneratorBlock(nn.Module):
    def __init__(self, w_in: int, w_out: int, *, activation: str, norm: str, num_classes: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(norm, w_in, num_classes), _norm(norm, w_out, num_classes)
        self.conv1 = nn.Conv2d(w_in, w_out, 3, padding=1)
        self.conv2 = nn.Conv2d(w_out, w_out, 3, padding=1)
        self.skip = nn.Conv2d(w_in, w_out, 1)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(self.act(_apply_norm(self.norm1, x, labels)), scale_factor=2, mode="nearest")
        h = self.conv2(self.act(_apply_norm(self.norm2, self.conv1(h), labels)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(_Generator):
    def __init__(
        self,
        *,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int = 64,
        activation: str = "relu",
        norm: str = "batch",
        num_classes: int = 0,
    ) -> None:
        super().__init__(
            latent_dim=latent_dim, image_size=image_size, width=width, num_classes=num_classes, max_multiplier=4
        )
        self.blocks = nn.ModuleList(
            ResNetGeneratorBlock(w_in, w_out, activation=activation, norm=norm, num_classes=num_classes)
            for w_in, w_out in zip(self.widths[:-1], self.widths[1:])
        )
        self.out_norm = _norm(norm, self.widths[-1], num_classes)
        self.act = ACTIVATIONS[activation]()
        self.to_image = nn.Conv2d(self.widths[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.first_map(z, labels)
        for block in self.blocks:
            x = block(x, labels)
        return torch.tanh(self.to_image(self.act(_apply_norm(self.out_norm, x, labels))))


class ResNetDiscriminatorBlock(nn.Module):
    def __init__(
        self, w_in: int, w_out: int, *, activation: str, spectral: bool, downsample: bool, first: bool
    ) -> None:
        super().__init__()
        self.conv1 = _maybe_sn(nn.Conv2d(w_in, w_out, 3, padding=1), spectral)
        self.conv2 = _maybe_sn(nn.Conv2d(w_out, w_out, 3, padding=1), spectral)
        self.skip = _maybe_sn(nn.Conv2d(w_in, w_out, 1), spectral) if (w_in != w_out or downsample) else None
        self.act = ACTIVATIONS[activation]()
        self.downsample, self.first = downsample, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else self.act(x)  # the first block sees raw pixels (Miyato et al. 2018)
        h = self.conv2(self.act(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        shortcut = self.skip(x) if self.skip is not None else x
        if self.downsample:  # a 1x1 conv and average pooling commute: pool after, as in the paper
            shortcut = F.avg_pool2d(shortcut, 2)
        return h + shortcut


class ResNetDiscriminator(_Discriminator):
    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        width: int = 64,
        activation: str = "relu",
        spectral: bool = True,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        widths, _ = stage_plan(image_size, width, 4)
        chain = [channels, *widths[1:]]
        blocks = [
            ResNetDiscriminatorBlock(
                w_in, w_out, activation=activation, spectral=spectral, downsample=True, first=index == 0
            )
            for index, (w_in, w_out) in enumerate(zip(chain[:-1], chain[1:]))
        ]
        blocks.append(
            ResNetDiscriminatorBlock(
                widths[-1], widths[-1], activation=activation, spectral=spectral, downsample=False, first=False
            )
        )
        self.blocks = nn.Sequential(*blocks)
        self.act = ACTIVATIONS[activation]()
        self._init_head(widths[-1], 1, num_classes, spectral)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        return self.act(self.blocks(images))
