"""The denoising UNet of the diffusion models: noisy images and timesteps in, a prediction of the same shape out.

Layout (Ho et al. 2020, as simplified by later work): a sinusoidal timestep embedding through an MLP, added
(with an optional class embedding) into every residual block; ``blocks_per_level`` residual blocks per
resolution level on the way down, one more on the way up (each taking the matching skip); self-attention at
the resolutions listed in ``attention_sides`` (only small ones: its cost grows with the square of the pixels).
Levels halve the side while it stays even and at least 4 px: 28 -> 14 -> 7, 32 -> 16 -> 8, 64 -> 32 -> 16 -> 8.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) integer or real timesteps -> (B, dim) sinusoids of geometrically spaced frequencies."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=timesteps.device) / half)
    angles = timesteps.float()[:, None] * frequencies[None]
    embedding = torch.cat([angles.cos(), angles.sin()], dim=1)
    return F.pad(embedding, (0, dim % 2))


def _groups(channels: int) -> int:
    return math.gcd(channels, 8) if channels < 32 else math.gcd(channels, 32)


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` with a fast path for channels-last tensors on the CPU.

    PyTorch's CPU kernel for channels-last input was 4-20x slower than for NCHW here (2.9 vs 0.4 ms fp32,
    9.0 ms bf16, at 100x32x28x28), and took 73% of a channels-last UNet forward pass. The fast path sums
    per-channel first and second moments over a (B, H*W, C) view (no copy, no layout change), pools them per
    group and applies one per-channel affine map: DDIM-50 sampling of a 28 px UNet (2 blocks per level) in channels-last
    went from 2.8 to 8.9 img/s (bf16, 2 threads). Output keeps the input's dtype. NCHW input takes PyTorch's kernel.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4 or x.is_contiguous():
            return super().forward(x)
        batch, channels, height, width = x.shape
        per_group = channels // self.num_groups
        pixels = x.permute(0, 2, 3, 1).reshape(batch, height * width, channels)  # a view: no copy
        channel_mean = pixels.sum(1, dtype=torch.float32) / (height * width)
        channel_square = (pixels * pixels).sum(1, dtype=torch.float32) / (height * width)
        group_mean = channel_mean.view(batch, self.num_groups, per_group).mean(-1)
        group_var = (channel_square.view(batch, self.num_groups, per_group).mean(-1) - group_mean.square()).clamp_min(0)
        scale = torch.rsqrt(group_var + self.eps).repeat_interleave(per_group, dim=1) * self.weight.float()
        shift = self.bias.float() - group_mean.repeat_interleave(per_group, dim=1) * scale
        return torch.addcmul(shift[:, :, None, None].to(x.dtype), x, scale[:, :, None, None].to(x.dtype))


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the time (and class) embedding added between them, a 1x1 skip on width change."""

    def __init__(self, in_channels: int, out_channels: int, embedding_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm_in = GroupNorm(_groups(in_channels), in_channels)
        self.conv_in = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embedding = nn.Linear(embedding_dim, out_channels)
        self.norm_out = GroupNorm(_groups(out_channels), out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # each block starts as the identity: steadier early training
        nn.init.zeros_(self.conv_out.bias)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        hidden = self.conv_in(F.silu(self.norm_in(x)))
        hidden = hidden + self.embedding(embedding)[:, :, None, None].to(hidden.dtype)
        hidden = self.conv_out(self.dropout(F.silu(self.norm_out(hidden))))
        return self.skip(x) + hidden


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a (small) feature map, with a residual connection."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.project = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        # (B, heads, pixels, head_dim), contiguous: PyTorch's fused CPU attention kernel takes that layout
        # (transposed views fell back to the unfused path, 3% of the whole network's time at 28 px)
        qkv = self.qkv(self.norm(x)).reshape(batch, 3, self.heads, channels // self.heads, height * width)
        query, key, value = qkv.permute(1, 0, 2, 4, 3).contiguous().unbind(0)
        attended = F.scaled_dot_product_attention(query, key, value)
        attended = attended.transpose(-1, -2).reshape(batch, channels, height, width)
        return x + self.project(attended)


class UNet(nn.Module):
    """(x_t (B, C, H, W), t (B,), labels (B,) or None) -> (B, C, H, W).

    With ``num_classes`` > 0 a class embedding is added to the time embedding; label ``num_classes`` is the
    "no class" token used for classifier-free guidance.
    """

    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        width: int = 32,
        channel_multipliers: tuple[int, ...] = (),
        blocks_per_level: int = 2,
        attention_sides: tuple[int, ...] = (7, 8),
        heads: int = 4,
        dropout: float = 0.0,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        multipliers = channel_multipliers or default_multipliers(image_size)
        sides = [image_size // 2**level for level in range(len(multipliers))]
        if image_size % 2 ** (len(multipliers) - 1):
            raise ConfigError(f"image size {image_size} cannot be halved {len(multipliers) - 1} times exactly")
        embedding_dim = 4 * width
        self.width, self.num_classes = width, num_classes
        self.time_mlp = nn.Sequential(
            nn.Linear(width, embedding_dim), nn.SiLU(), nn.Linear(embedding_dim, embedding_dim)
        )
        self.class_embedding = nn.Embedding(num_classes + 1, embedding_dim) if num_classes else None
        self.stem = nn.Conv2d(channels, width, 3, padding=1)

        def attention(side: int, channels_here: int) -> nn.Module:
            return SelfAttention(channels_here, heads) if side in attention_sides else nn.Identity()

        self.down_blocks, self.down_attention, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        skip_widths, current = [width], width
        for level, multiplier in enumerate(multipliers):
            out = width * multiplier
            for _ in range(blocks_per_level):
                self.down_blocks.append(ResidualBlock(current, out, embedding_dim, dropout))
                self.down_attention.append(attention(sides[level], out))
                current = out
                skip_widths.append(current)
            if level < len(multipliers) - 1:
                self.downsample.append(nn.Conv2d(current, current, 3, stride=2, padding=1))
                skip_widths.append(current)
        self.middle = nn.ModuleList(
            [
                ResidualBlock(current, current, embedding_dim, dropout),
                SelfAttention(current, heads),
                ResidualBlock(current, current, embedding_dim, dropout),
            ]
        )
        self.up_blocks, self.up_attention, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(multipliers))):
            out = width * multipliers[level]
            for _ in range(blocks_per_level + 1):
                self.up_blocks.append(ResidualBlock(current + skip_widths.pop(), out, embedding_dim, dropout))
                self.up_attention.append(attention(sides[level], out))
                current = out
            if level > 0:
                # nearest-neighbour upsampling with no conv of its own: the next block's conv smooths it, and a
                # 64-channel conv here at 28 px would cost ~58 of the network's ~340 MFLOP (counted, not timed)
                self.upsample.append(nn.Upsample(scale_factor=2.0, mode="nearest"))
        self.head = nn.Sequential(
            GroupNorm(_groups(current), current), nn.SiLU(), nn.Conv2d(current, channels, 3, padding=1)
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.levels, self.blocks_per_level = len(multipliers), blocks_per_level

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedding = self.time_mlp(timestep_embedding(timesteps, self.width).to(x.dtype))
        if self.class_embedding is not None:
            if labels is None:  # unconditional prediction: the "no class" token
                labels = torch.full((len(x),), self.num_classes, dtype=torch.int64, device=x.device)
            embedding = embedding + self.class_embedding(labels)
        hidden = self.stem(x)
        skips = [hidden]
        block = 0
        for level in range(self.levels):
            for _ in range(self.blocks_per_level):
                hidden = self.down_attention[block](self.down_blocks[block](hidden, embedding))
                skips.append(hidden)
                block += 1
            if level < self.levels - 1:
                hidden = self.downsample[level](hidden)
                skips.append(hidden)
        hidden = self.middle[0](hidden, embedding)
        hidden = self.middle[2](self.middle[1](hidden), embedding)
        block = 0
        for up_index, level in enumerate(reversed(range(self.levels))):
            for _ in range(self.blocks_per_level + 1):
                hidden = torch.cat([hidden, skips.pop()], dim=1)
                hidden = self.up_attention[block](self.up_blocks[block](hidden, embedding))
                block += 1
            if level > 0:
                hidden = self.upsample[up_index](hidden)
        return self.head(hidden)


def default_multipliers(image_size: int) -> tuple[int, ...]:
    """Width multipliers per level: halve while the side stays even and >= 4 px, at most 3 levels up to
    32 px and 4 above (64 px: 64, 32, 16, 8)."""
    most = 3 if image_size <= 32 else 4
    levels, side = 1, image_size
    while levels < most and side % 2 == 0 and side // 2 >= 4:
        side //= 2
        levels += 1
    return (1, 2, 2, 4)[:levels] if levels > 1 else (1,)
