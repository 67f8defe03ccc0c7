"""Learned image codecs: Ballé et al.'s factorized prior (2017) and scale hyperprior (2018), variable-rate.

One run serves every quality: per-quality gain vectors scale the latent channels before rounding and an
inverse gain after (Cui et al. 2021, "gain units"), and each training image draws its quality, so a batch
optimises ``lambda_q * 255^2 * MSE + bpp`` over all the lambdas at once. On a 2-core machine one run in the
time of six is the difference between a trained codec and six undertrained ones; the price, measured by Cui
et al., is a few tenths of a dB against separate models.

Images of any size are padded (edge-replicated) to a multiple of the transforms' stride inside the codec and
cropped after decoding; the file records the size. Latents are clamped to the coder's alphabet and rounded the
same way in the forward pass and in ``compress``, so the decoder's reconstruction equals the forward pass's.
The entropy models' distributions are computed on the CPU in float64 (see ``imsynth.runtime.coding``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, InputError
from ..runtime.coding import (
    ALPHABET,
    PROBABILITY_GRID,
    SCALE_MIN,
    Checksum,
    SymbolReader,
    SymbolWriter,
    scale_indices,
    snap_probabilities,
)
from ..runtime.tensors import pad_to_multiple
from .base import DataShape, GenerativeModel, LossOutput, Noise, register_model, require

LAMBDAS = [0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483, 0.0932, 0.18]
"""CompressAI's MSE lambdas for its qualities 1-8 (loss = lambda * 255^2 * MSE + bpp)."""


@dataclass
class CodecConfig(DataShape):
    width: int = 128  # N: channels of the hidden layers
    latent_channels: int = 192  # M: channels of the coded latent
    levels: int = 4  # stride-2 stages of the analysis transform (the latent is 2^levels times smaller)
    hyper_levels: int = 2  # stride-2 stages of the hyperprior's analysis (hyperprior only)
    lambdas: list[float] = field(default_factory=lambda: list(LAMBDAS))

    def __post_init__(self) -> None:
        require(self.width >= 1 and self.latent_channels >= 1, "width and latent_channels must be >= 1")
        require(1 <= self.levels <= 6, f"levels must be in 1..6, got {self.levels}")
        require(1 <= self.hyper_levels <= 4, f"hyper_levels must be in 1..4, got {self.hyper_levels}")
        require(len(self.lambdas) >= 1 and all(v > 0 for v in self.lambdas), "lambdas must be positive, at least one")
        require(list(self.lambdas) == sorted(self.lambdas), "lambdas must increase (quality 1 is the lowest rate)")


CODEC_TINY = {"width": 8, "latent_channels": 8, "levels": 2, "hyper_levels": 1, "lambdas": [0.01, 0.05]}


class GDN(nn.Module):
    """Generalised divisive normalisation (Ballé et al. 2016): x / sqrt(beta + gamma x^2) across channels;
    ``inverse`` multiplies instead (the synthesis transform's IGDN). beta and gamma are squares of the
    parameters, so they stay positive."""

    def __init__(self, channels: int, *, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(math.sqrt(0.1) * torch.eye(channels).reshape(channels, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            norm = F.conv2d(x * x, self.gamma.float() ** 2, self.beta.float() ** 2 + 1e-6)
            return x * norm.sqrt() if self.inverse else x * norm.rsqrt()


def _down(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 5, stride=2, padding=2)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=2, output_padding=1)


def analysis_transform(channels: int, width: int, latent: int, levels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for level in range(levels):
        last = level == levels - 1
        layers.append(_down(channels if level == 0 else width, latent if last else width))
        if not last:
            layers.append(GDN(width))
    return nn.Sequential(*layers)


def synthesis_transform(latent: int, width: int, channels: int, levels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for level in range(levels):
        last = level == levels - 1
        layers.append(_up(latent if level == 0 else width, channels if last else width))
        if not last:
            layers.append(GDN(width, inverse=True))
    return nn.Sequential(*layers)


class FactorizedDensity(nn.Module):
    """Ballé et al.'s (2018, appendix 6.1) non-parametric density, one per channel: a monotone MLP gives the
    cumulative's logits, so the probability of a unit bin is a difference of two sigmoids."""

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        sizes = (1, *filters, 1)
        scale = init_scale ** (1 / (len(sizes) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        generator = torch.Generator().manual_seed(0)
        for index in range(len(sizes) - 1):
            init = math.log(math.expm1(1 / scale / sizes[index + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, sizes[index + 1], sizes[index]), init)))
            bias = torch.rand((channels, sizes[index + 1], 1), generator=generator) - 0.5
            self.biases.append(nn.Parameter(bias))
            if index < len(sizes) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, sizes[index + 1], 1)))

    def logits(self, values: torch.Tensor) -> torch.Tensor:
        """values (C, 1, N) -> the cumulative's logits (C, 1, N), in the dtype and device of ``values``."""
        x = values
        for index, matrix in enumerate(self.matrices):
            x = torch.matmul(F.softplus(matrix.to(x)), x) + self.biases[index].to(x)
            if index < len(self.factors):
                x = x + torch.tanh(self.factors[index].to(x)) * torch.tanh(x)
        return x

    def likelihood(self, latents: torch.Tensor) -> torch.Tensor:
        """P(bin of width 1 centred on each value) for latents (B, C, H, W)."""
        batch, channels, height, width = latents.shape
        values = latents.transpose(0, 1).reshape(channels, 1, -1)
        lower, upper = self.logits(values - 0.5), self.logits(values + 0.5)
        sign = -torch.sign(lower + upper).detach()  # evaluate in the tail where the sigmoid is accurate
        probability = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return probability.clamp_min(1e-9).reshape(channels, batch, height, width).transpose(0, 1)

    @torch.no_grad()
    def tables(self) -> np.ndarray:
        """(C, 2 * ALPHABET + 1) probabilities of the symbols -ALPHABET..ALPHABET, float64 on the CPU, snapped."""
        channels = self.matrices[0].shape[0]
        symbols = torch.arange(-ALPHABET, ALPHABET + 1, dtype=torch.float64).expand(channels, 1, -1)
        cpu = copy.deepcopy(self).to("cpu", torch.float64)
        lower, upper = cpu.logits(symbols - 0.5), cpu.logits(symbols + 0.5)
        sign = -torch.sign(lower + upper)
        probability = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return snap_probabilities(probability.reshape(channels, -1).numpy())


def gaussian_likelihood(values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """P(unit bin centred on each value) under N(0, scale^2), computed on |value| for accuracy in the tail."""
    values = values.abs()
    upper = torch.special.ndtr((0.5 - values) / scales)
    lower = torch.special.ndtr((-0.5 - values) / scales)
    return (upper - lower).clamp_min(1e-9)


def information(probability: torch.Tensor) -> torch.Tensor:
    """Bits of each probability, floored where the coder floors it (no coded symbol costs more than 24 bits:
    the coder gives every symbol at least 2^-24), so estimates and file sizes agree in the tails too."""
    return -torch.log2(probability.clamp_min(PROBABILITY_GRID))


def _bits(probability: torch.Tensor) -> torch.Tensor:
    """Information content in bits per image of probabilities (B, ...)."""
    return information(probability).flatten(1).sum(1)


def quality_index(quality: int, qualities: int) -> int:
    """Quality 1..``qualities`` (1: the lowest rate) -> its 0-based row; every codec checks it here."""
    if not 1 <= int(quality) <= qualities:
        raise InputError(f"quality must be in 1..{qualities} for this codec, got {quality}")
    return int(quality) - 1


def default_quality(qualities: int) -> int:
    """The quality used when none is given: the middle one."""
    return qualities // 2 + 1


def quantise(latents: torch.Tensor) -> torch.Tensor:
    """The codec's one rounding: clamp to the coder's alphabet, round half to even."""
    return torch.round(latents.clamp(-ALPHABET, ALPHABET))


class LearnedCodec(GenerativeModel):
    """The parts both codecs share: padding, gains, the rate-distortion loss and the coding frame.

    Subclasses define ``_entropy(latents, uniform)`` (training rate), ``_estimate_bits(y_hat)`` (the forward
    pass's rate at the rounded latents), ``_write``/``_read`` (the symbols) and ``_prior_sample``."""

    capabilities = frozenset({"image", "codec"})

    config_class = CodecConfig

    def __init__(self, config: CodecConfig) -> None:
        super().__init__(config)
        c, n, m = config.channels, config.width, config.latent_channels
        self.analysis = analysis_transform(c, n, m, config.levels)
        self.synthesis = synthesis_transform(m, n, c, config.levels)
        # log-gains spread so the initial rates already differ by quality (rate ~ log gain)
        lambdas = torch.tensor(config.lambdas, dtype=torch.float32)
        spread = 0.5 * torch.log(lambdas / lambdas[len(lambdas) // 2])
        self.log_gain = nn.Parameter(spread[:, None].repeat(1, m))
        self.log_inverse_gain = nn.Parameter(-spread[:, None].repeat(1, m))
        self.register_buffer("lambdas", lambdas, persistent=False)

    def start_from(
        self, family: str, tensors: dict[str, torch.Tensor], source, model_config: dict | None = None
    ) -> None:
        """A codec run retargeted to other lambdas (``--init RUN --set lambdas=[...]``): every weight is taken,
        and each new quality's gains start from the run's nearest lambda, moved by half the log of the lambdas'
        ratio (the spread a fresh codec starts with), so a lower rate is learnt from a trained codec."""
        before = (model_config or {}).get("lambdas", list(self.config.lambdas))
        if list(before) != list(self.config.lambdas):
            tensors = dict(tensors)
            old = torch.tensor(before, dtype=torch.float64).log()
            new = torch.tensor(self.config.lambdas, dtype=torch.float64).log()
            nearest = (new[:, None] - old[None, :]).abs().argmin(1)
            shift = (0.5 * (new - old[nearest])).float()[:, None]
            for name, sign in (("log_gain", 1), ("log_inverse_gain", -1)):
                rows = tensors.get(name)
                if rows is None or rows.shape[0] != len(before):
                    raise CheckpointError(f"{source}: {name} does not hold one row per lambda of its config")
                tensors[name] = rows[nearest] + sign * shift
        super().start_from(family, tensors, source, model_config)

    # -- shapes -----------------------------------------------------------------------------------
    @property
    def qualities(self) -> int:
        return len(self.config.lambdas)

    @property
    def stride(self) -> int:
        """Image pixels per latent pixel."""
        return 2**self.config.levels

    @property
    def multiple(self) -> int:
        """Padded image sides are multiples of this."""
        return self.stride

    def _pad(self, images: torch.Tensor) -> torch.Tensor:
        return pad_to_multiple(images, self.multiple)

    def latent_size(self, height: int, width: int) -> tuple[int, int]:
        """The latent's (height, width) for an image of that size (after padding)."""
        return tuple(-(-side // self.multiple) * self.multiple // self.stride for side in (height, width))

    def check_images(self, shape: tuple[int, ...]) -> None:
        """A codec takes images of any size; only the channel count must match."""
        if len(shape) != 3 or shape[0] != self.config.channels:
            raise InputError(
                f"codec {self.registered_name!r} codes {self.config.channels}-channel images; got shape {tuple(shape)}"
            )

    def _gains(self, quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.log_gain[quality].exp()[..., None, None], self.log_inverse_gain[quality].exp()[..., None, None]

    # -- training ---------------------------------------------------------------------------------
    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        uniform = uniform or (lambda shape: torch.rand(shape))
        batch = images.shape[0]
        quality = (uniform((batch,)).to(images.device) * self.qualities).long().clamp(max=self.qualities - 1)
        gain, inverse_gain = self._gains(quality)
        latents = (self.analysis(self._pad(images)) * gain).clamp(-ALPHABET, ALPHABET)
        bits = self._entropy(latents, uniform)
        rounded = latents + (torch.round(latents) - latents).detach()  # straight-through rounding for the decoder
        decoded = self.synthesis(rounded * inverse_gain)[..., : images.shape[-2], : images.shape[-1]]
        mse = (decoded.float() - images.float()).pow(2).mean((1, 2, 3)) / 4  # on the [0, 1] scale
        bpp = bits / (images.shape[-2] * images.shape[-1])
        loss = (self.lambdas[quality] * 255**2 * mse + bpp).mean()
        psnr = (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean()
        return LossOutput(loss, {"bpp": bpp.mean().detach(), "mse": mse.mean().detach(), "psnr": psnr.detach()})

    def _noisy(self, latents: torch.Tensor, uniform: Noise) -> torch.Tensor:
        return latents + uniform(tuple(latents.shape)).to(latents) - 0.5

    # -- coding -----------------------------------------------------------------------------------
    def _latents(self, images: torch.Tensor, quality: int) -> torch.Tensor:
        gain, _ = self._gains(torch.tensor([quality_index(quality, self.qualities)], device=images.device))
        # one memory layout for the latents whatever the caller's (a channels-last view of an HxWxC array picks
        # other convolution kernels, whose last bits differ from the decoder's)
        with torch.autocast(images.device.type, enabled=False):
            return quantise(self.analysis(self._pad(images.float().contiguous())) * gain).contiguous()

    def _decode(self, rounded: torch.Tensor, quality: int, size: tuple[int, int]) -> torch.Tensor:
        _, inverse_gain = self._gains(torch.tensor([quality_index(quality, self.qualities)], device=rounded.device))
        decoded = self.synthesis(rounded * inverse_gain)[..., : size[0], : size[1]]
        return decoded.clamp(-1, 1)

    @torch.no_grad()
    def code(self, images: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward pass without the coder: (reconstruction in [-1, 1], estimated bits per image)."""
        rounded = self._latents(images, quality)
        return self._decode(rounded, quality, images.shape[-2:]), self._estimate_bits(rounded)

    @torch.no_grad()
    def compress(self, images: torch.Tensor, quality: int, writer: SymbolWriter, check: Checksum) -> float:
        """Write the symbols of one image (1, C, H, W) in [-1, 1]; returns the estimated bits."""
        rounded = self._latents(images, quality)
        self._write(rounded, writer, check)
        return float(self._estimate_bits(rounded).sum())

    @torch.no_grad()
    def decompress(
        self, reader: SymbolReader, shape: tuple[int, int, int], quality: int, check: Checksum
    ) -> torch.Tensor:
        """Read the symbols of one image of ``shape`` (C, H, W) and decode it to (1, C, H, W) in [-1, 1]."""
        height, width = self.latent_size(*shape[1:])
        device = next(self.parameters()).device
        rounded = self._read(reader, (1, self.config.latent_channels, height, width), check).to(device)
        return self._decode(rounded, quality, shape[1:])

    # -- sampling: decoded draws from the prior (what the codec's prior believes images look like) ------
    @torch.no_grad()
    def sample(
        self, count: int, *, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        height, width = self.latent_size(self.config.image_size, self.config.image_size)
        rounded = self._prior_sample((count, self.config.latent_channels, height, width), generator)
        device = next(self.parameters()).device
        size = (self.config.image_size, self.config.image_size)
        return self._decode(rounded.to(device), default_quality(self.qualities), size)


def _table_sample(tables: np.ndarray, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Symbols (B, C, H, W) drawn per channel from probability tables (C, 2 * ALPHABET + 1)."""
    batch, channels, height, width = shape
    probabilities = torch.from_numpy(tables).float().clamp_min(0)
    draws = torch.multinomial(probabilities, batch * height * width, replacement=True, generator=generator)
    return (draws - ALPHABET).float().reshape(channels, batch, height, width).transpose(0, 1).contiguous()


def _write_tables(latents: torch.Tensor, tables: np.ndarray, writer: SymbolWriter, check: Checksum) -> None:
    check.add(tables)
    symbols = latents[0].to("cpu", torch.int32).numpy()
    for channel, table in enumerate(tables):
        writer.categorical(symbols[channel], table)


def _read_tables(reader: SymbolReader, shape: tuple[int, ...], tables: np.ndarray, check: Checksum) -> torch.Tensor:
    check.add(tables)
    _, channels, height, width = shape
    planes = [reader.categorical(height * width, table).reshape(height, width) for table in tables]
    return torch.from_numpy(np.stack(planes)).float()[None]


@register_model(
    "factorized",
    tiny=CODEC_TINY,
    description="learned codec: factorized prior (Ballé et al. 2017), GDN, variable rate by gain units",
    train_defaults={"lr": 1e-4, "batch_size": 16},
)
class FactorizedCodec(LearnedCodec):
    def __init__(self, config: CodecConfig) -> None:
        super().__init__(config)
        self.density = FactorizedDensity(config.latent_channels)

    def _entropy(self, latents: torch.Tensor, uniform: Noise) -> torch.Tensor:
        with torch.autocast(latents.device.type, enabled=False):
            return _bits(self.density.likelihood(self._noisy(latents.float(), uniform)))

    def _estimate_bits(self, rounded: torch.Tensor) -> torch.Tensor:
        return _bits(self.density.likelihood(rounded))

    def _write(self, rounded: torch.Tensor, writer: SymbolWriter, check: Checksum) -> None:
        _write_tables(rounded, self.density.tables(), writer, check)

    def _read(self, reader: SymbolReader, shape: tuple[int, ...], check: Checksum) -> torch.Tensor:
        return _read_tables(reader, shape, self.density.tables(), check)

    def _prior_sample(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return _table_sample(self.density.tables(), shape, generator)


@register_model(
    "hyperprior",
    tiny=CODEC_TINY,
    description="learned codec: scale hyperprior (Ballé et al. 2018), GDN, variable rate by gain units",
    train_defaults={"lr": 1e-4, "batch_size": 16},
)
class HyperpriorCodec(LearnedCodec):
    """y's scales come from side information z (itself under a factorized density); the scales that the coder
    sees are computed from the decoded z on the CPU in float64 and snapped to the fixed scale table."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__(config)
        n, m = config.width, config.latent_channels
        hyper_analysis: list[nn.Module] = [nn.Conv2d(m, n, 3, padding=1)]
        hyper_synthesis: list[nn.Module] = []
        for _ in range(config.hyper_levels):
            hyper_analysis += [nn.ReLU(), _down(n, n)]
            hyper_synthesis += [_up(n, n), nn.ReLU()]
        hyper_synthesis.append(nn.Conv2d(n, m, 3, padding=1))
        self.hyper_analysis = nn.Sequential(*hyper_analysis)
        self.hyper_synthesis = nn.Sequential(*hyper_synthesis)
        self.density = FactorizedDensity(n)

    @property
    def multiple(self) -> int:
        return 2 ** (self.config.levels + self.config.hyper_levels)

    def _scales(self, side: torch.Tensor) -> torch.Tensor:
        return SCALE_MIN + F.softplus(self.hyper_synthesis(side))

    def _side(self, latents: torch.Tensor) -> torch.Tensor:
        return self.hyper_analysis(latents.abs()).clamp(-ALPHABET, ALPHABET)

    def _entropy(self, latents: torch.Tensor, uniform: Noise) -> torch.Tensor:
        side = self._side(latents)
        with torch.autocast(latents.device.type, enabled=False):
            side_bits = _bits(self.density.likelihood(self._noisy(side.float(), uniform)))
            rounded_side = side + (torch.round(side) - side).detach()
            scales = self._scales(rounded_side.float())
            return side_bits + _bits(gaussian_likelihood(self._noisy(latents.float(), uniform), scales))

    def _estimate_bits(self, rounded: torch.Tensor) -> torch.Tensor:
        side = torch.round(self._side(rounded))
        scales = self._scales(side)
        return _bits(self.density.likelihood(side)) + _bits(gaussian_likelihood(rounded, scales))

    @torch.no_grad()
    def _scale_indices(self, side: torch.Tensor, check: Checksum) -> np.ndarray:
        """Scale-table indices for y from the decoded side information, computed on the CPU in float64 (the only
        arithmetic the encoder and the decoder must repeat identically) and added to the checksum."""
        network = copy.deepcopy(self.hyper_synthesis).to("cpu", torch.float64)
        indices = scale_indices((SCALE_MIN + F.softplus(network(side.to("cpu", torch.float64)))).numpy())
        check.add(indices)
        return indices

    def _side_shape(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The side information's shape for latents of ``shape`` (B, M, H, W)."""
        step = 2**self.config.hyper_levels
        return (shape[0], self.config.width, shape[2] // step, shape[3] // step)

    def _write(self, rounded: torch.Tensor, writer: SymbolWriter, check: Checksum) -> None:
        side = torch.round(self._side(rounded))
        _write_tables(side, self.density.tables(), writer, check)
        writer.gaussian(rounded[0].to("cpu", torch.int32).numpy(), self._scale_indices(side, check))

    def _read(self, reader: SymbolReader, shape: tuple[int, ...], check: Checksum) -> torch.Tensor:
        side = _read_tables(reader, self._side_shape(shape), self.density.tables(), check)
        return torch.from_numpy(reader.gaussian(self._scale_indices(side, check)).reshape(shape[1:])).float()[None]

    def _prior_sample(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        side = _table_sample(self.density.tables(), self._side_shape(shape), generator)
        device = next(self.parameters()).device
        scales = self._scales(side.to(device)).cpu()
        return quantise(torch.randn(scales.shape, generator=generator) * scales)
