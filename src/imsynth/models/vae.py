"""The VAE family: VAE, beta-VAE (plain and capacity-annealed), beta-TCVAE and the conditional VAE (the denoising
VAE, a subclass, lives in imsynth.models.dvae).

One method class, four registered names: the objective is chosen by config fields, so every variant
shares encode/decode/sample/interpolate/traverse and the likelihood metrics.

Images are NCHW in [-1, 1]. Likelihoods are per image, in nats, summed over pixels:
- ``bernoulli``: pixel intensities (x+1)/2 in [0, 1] as Bernoulli means (the usual choice for MNIST-like
  grey data; a density for binary data, a standard surrogate for grey levels);
- ``gaussian``: a Gaussian on [-1, 1] values with one learned log-scale per channel (a calibrated decoder,
  Rybkin et al. 2021), so no hand-tuned weight balances reconstruction against KL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, InputError
from ..runtime.coding import scale_indices
from ..runtime.tensors import tiles, untile
from .base import DataShape, GenerativeModel, LossOutput, Noise, register_model, require
from .codec import gaussian_likelihood, information, quality_index, quantise
from .kl import collapse_advice, free_bits_kl, kl_weight
from .networks import ConvDecoder, ConvEncoder, stage_plan

LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig(DataShape):
    search_space: ClassVar[dict] = {
        "train.lr": {"low": 3e-4, "high": 5e-3, "log": True},
        "latent_dim": {"choices": [8, 16, 32, 64]},
        "width": {"choices": [16, 32, 64]},
        "train.batch_size": {"choices": [32, 64, 128]},
        "kl_warmup": {"low": 0, "high": 2000},
    }
    latent_dim: int = 16
    width: int = 32
    activation: Literal["silu", "relu", "leaky_relu"] = "silu"
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    beta: float = 1.0
    # capacity-annealed beta-VAE (Burgess et al. 2018): gamma * |KL - C|, C rising to capacity_max nats
    capacity_max: float = 0.0
    capacity_steps: int = 10000
    capacity_gamma: float = 1000.0
    # beta-TCVAE (Chen et al. 2018): alpha * MI + beta * TC + gamma * dimension-wise KL, estimated with
    # minibatch-stratified sampling
    total_correlation: bool = False
    alpha: float = 1.0
    gamma: float = 1.0
    # remedies for posterior collapse (imsynth.models.kl): the KL's weight warmed up over kl_warmup steps
    # (linear or cyclical), and each latent dimension's KL counted as at least free_bits nats
    kl_warmup: int = 0
    kl_anneal: Literal["linear", "cyclical"] = "linear"
    free_bits: float = 0.0
    # a spatial latent (as latent diffusion's autoencoders, Rombach et al. 2022): latent_channels maps at the
    # encoder's last side (7x7 at 28 px); latent_dim is then their size. 0: a vector latent of latent_dim
    latent_channels: int = 0

    def __post_init__(self) -> None:
        require(self.latent_channels >= 0, f"latent_channels must be >= 0, got {self.latent_channels}")
        if self.latent_channels:
            self.latent_dim = self.latent_channels * stage_plan(self.image_size, self.width)[1] ** 2
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.width >= 1, f"width must be >= 1, got {self.width}")
        require(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        require(self.capacity_max >= 0 and self.capacity_steps >= 1, "capacity_max >= 0 and capacity_steps >= 1")
        require(
            not (self.total_correlation and self.capacity_max > 0),
            "choose the capacity objective or total_correlation, not both",
        )
        require(self.kl_warmup >= 0 and self.free_bits >= 0, "kl_warmup and free_bits must be >= 0")


VAE_TINY = {"width": 8, "latent_dim": 4}

# quality 1..6 of a VAE used as a codec: the posterior mean is rounded to multiples of this step (the prior's
# standard deviation is 1), and each code is coded under the prior
VAE_CODEC_STEPS = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125)


@register_model("vae", tiny=VAE_TINY, description="VAE: conv encoder/decoder, Bernoulli or Gaussian likelihood")
@register_model(
    "beta-vae", tiny=VAE_TINY, description="beta-VAE (beta=4); capacity annealing with --set capacity_max=25", beta=4.0
)
@register_model(
    "beta-tcvae",
    tiny=VAE_TINY,
    description="beta-TCVAE: alpha*MI + beta*TC + gamma*dim-KL (minibatch-stratified)",
    total_correlation=True,
    beta=6.0,
)
@register_model("cvae", tiny=VAE_TINY, description="class-conditional VAE", conditional=True)
class VAE(GenerativeModel):
    config_class = VAEConfig
    capabilities = frozenset(
        {"sample", "image", "latent", "latent-features", "encoder", "representation", "likelihood", "purifier", "codec"}
    )

    def __init__(
        self, config: VAEConfig, *, encoder: nn.Module | None = None, decoder: nn.Module | None = None
    ) -> None:
        super().__init__(config)
        classes = config.num_classes if config.conditional else 0
        # Custom networks (e.g. a benchmark peer's) may be passed in; they must map images -> 2*latent
        # and latent -> images with the same calling convention.
        self.encoder = encoder or ConvEncoder(
            channels=config.channels,
            image_size=config.image_size,
            width=config.width,
            out_features=2 * config.latent_dim,
            num_classes=classes,
            activation=config.activation,
            latent_channels=config.latent_channels,
        )
        self.decoder = decoder or ConvDecoder(
            channels=config.channels,
            image_size=config.image_size,
            width=config.width,
            in_features=config.latent_dim,
            num_classes=classes,
            activation=config.activation,
            latent_channels=config.latent_channels,
        )
        if config.likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.full((config.channels,), -1.0))

    def _one_hot(self, labels: torch.Tensor | None, count: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        labels = self.check_labels(labels, count)
        return F.one_hot(labels.to(next(self.parameters()).device), self.config.num_classes).float()

    # -- the model --------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, C, H, W) -> mean and log-variance of q(z|x), each (B, latent_dim)."""
        one_hot = self._one_hot(labels, len(images))
        stats = self.encoder(images, one_hot) if one_hot is not None else self.encoder(images)
        mean, log_var = stats.float().chunk(2, dim=1)
        return mean, log_var.clamp(-30.0, 20.0)

    def decode_logits(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output before the likelihood's mean function (logits or Gaussian means)."""
        one_hot = self._one_hot(labels, len(latents))
        return self.decoder(latents, one_hot) if one_hot is not None else self.decoder(latents)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """latents (B, latent_dim) -> mean images (B, C, H, W) in [-1, 1]."""
        return self.mean_image(self.decode_logits(latents, labels))

    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """The likelihood's mean, in [-1, 1], of decoder outputs (logits or Gaussian means)."""
        output = decoded.float()
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(output) * 2.0 - 1.0
        return output.clamp(-1.0, 1.0)

    def log_likelihood(
        self, decoded: torch.Tensor, images: torch.Tensor, log_scale: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x|z) per image (B,), summed over pixels (``log_scale``: a Gaussian's, default the decoder's)."""
        decoded = decoded.float()
        if self.config.likelihood == "bernoulli":
            targets = (images.float() + 1.0) / 2.0
            per_pixel = -F.binary_cross_entropy_with_logits(decoded, targets, reduction="none")
        else:
            log_scale = (self.log_scale if log_scale is None else log_scale).view(1, -1, 1, 1)
            per_pixel = -0.5 * (((images - decoded) / log_scale.exp()) ** 2) - log_scale - 0.5 * LOG_2PI
        return per_pixel.flatten(1).sum(dim=1)

    # -- the objective ----------------------------------------------------------------------------
    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        return self.objective(images, images, labels, step=step, noise=noise)

    def objective(
        self,
        inputs: torch.Tensor,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
    ) -> LossOutput:
        """The ELBO of ``images`` with the posterior computed from ``inputs`` (the same tensor for a plain VAE;
        a corrupted copy for the denoising VAE)."""
        return self.objective_and_decoded(inputs, images, labels, step=step, noise=noise)[0]

    def objective_and_decoded(self, inputs, images, labels=None, *, step=0, noise=None):
        """``objective`` and the decoder's outputs it scored (B, C, H, W), for a family that judges them too."""
        mean, log_var = self.encode(inputs, labels)
        epsilon = noise(tuple(mean.shape)).to(mean) if noise is not None else torch.randn_like(mean)
        latents = mean + torch.exp(0.5 * log_var) * epsilon
        decoded = self.decode_logits(latents, labels)
        log_px = self.log_likelihood(decoded, images)
        kl_dims = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var)  # KL(q(z|x) || N(0, I)) per dimension
        kl = kl_dims.sum(dim=1)
        reconstruction = -log_px.mean()
        parts = {"recon": reconstruction.detach(), "kl": kl.mean().detach(), "elbo": (log_px - kl).mean().detach()}
        restoration = self.restoration_loss(inputs, decoded, images)
        if restoration is not None:
            reconstruction = reconstruction + restoration
            parts["restored_recon"] = restoration.detach()
        config = self.config
        if config.total_correlation:
            mi, tc, dim_kl = self._decomposed_kl(latents, mean, log_var)
            total = reconstruction + config.alpha * mi + config.beta * tc + config.gamma * dim_kl
            parts.update(mi=mi.detach(), tc=tc.detach(), dim_kl=dim_kl.detach())
        elif config.capacity_max > 0:
            capacity = config.capacity_max * min(1.0, step / config.capacity_steps)
            total = reconstruction + config.capacity_gamma * (kl.mean() - capacity).abs()
            parts["capacity"] = torch.tensor(capacity)
        else:
            weight = kl_weight(step, config.kl_warmup, config.kl_anneal)
            total = reconstruction + config.beta * weight * free_bits_kl(kl_dims, config.free_bits)
        return LossOutput(total, parts), decoded

    def advice(self, logged: dict, step: int) -> str | None:
        if "kl" not in logged or self.config.capacity_max > 0:
            return None
        return collapse_advice(float(logged["kl"]), step, self.config.kl_warmup, "kl_warmup=2000, free_bits=0.25")

    def restoration_loss(self, inputs: torch.Tensor, decoded: torch.Tensor, images: torch.Tensor):
        """An extra reconstruction term for models that refine the decoder's output (None: a plain VAE)."""
        return None

    def _decomposed_kl(self, latents, mean, log_var):
        """MI, total correlation and dimension-wise KL with minibatch-stratified sampling (B >= 2)."""
        batch, _ = latents.shape
        # log q(z_i | x_j) per dimension: (B_i, B_j, D)
        log_q_pairs = gaussian_log_density(latents[:, None, :], mean[None], log_var[None])
        log_weights = stratified_log_weights(batch, max(self.config.dataset_size, batch), latents.device)
        log_qz = torch.logsumexp(log_weights + log_q_pairs.sum(dim=2), dim=1)
        log_prod_qzi = torch.logsumexp(log_weights[:, :, None] + log_q_pairs, dim=1).sum(dim=1)
        log_qz_given_x = gaussian_log_density(latents, mean, log_var).sum(dim=1)
        log_pz = gaussian_log_density(latents, torch.zeros_like(latents), torch.zeros_like(latents)).sum(dim=1)
        mi = (log_qz_given_x - log_qz).mean()
        tc = (log_qz - log_prod_qzi).mean()
        dim_kl = (log_prod_qzi - log_pz).mean()
        return mi, tc, dim_kl

    # -- using the model --------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def latent_map(self) -> tuple[int, int, int] | None:
        side = stage_plan(self.config.image_size, self.config.width)[1]
        return (self.config.latent_channels, side, side) if self.config.latent_channels else None

    def decode_latents(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] for latent codes (B, latent_dim) (the explorer's common interface)."""
        return self.decode(latents.to(next(self.parameters()).device), labels)

    def latent_features(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's first hidden layer (for GANSpace-style principal directions)."""
        latents = latents.to(next(self.parameters()).device)
        return self.decoder.first_features(latents, self._one_hot(labels, len(latents))).flatten(1)

    @torch.no_grad()
    def sample(
        self, count: int, *, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        device = next(self.parameters()).device
        latents = torch.randn(count, self.config.latent_dim, generator=generator).to(device)
        return self.decode(latents, self.check_labels(labels, count))

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean of each image."""
        mean, _ = self.encode(images, labels)
        return self.decode(mean, labels)

    def purify(
        self,
        images: torch.Tensor,
        *,
        strength: float | None = None,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Encode-decode (the posterior mean): the image projected onto what the model has learnt, corrected by
        ``refined`` where a model has a restoration head. Deterministic and differentiable (gradients flow when
        the caller enables them); ``strength`` is unused."""
        mean, _ = self.encode(images, labels)
        return self.mean_image(self.refined(images, self.decode_logits(mean, labels)))

    # -- as a codec: the posterior mean quantised and coded under the prior N(0, I) --------------------
    @property
    def qualities(self) -> int:
        return len(VAE_CODEC_STEPS)

    def _code_step(self, quality: int) -> float:
        if self.conditional:
            raise InputError(f"model {self.registered_name!r} needs class labels to decode; it cannot act as a codec")
        return VAE_CODEC_STEPS[quality_index(quality, self.qualities)]

    def _symbols(self, images: torch.Tensor, quality: int) -> tuple[torch.Tensor, float]:
        step = self._code_step(quality)
        mean, _ = self.encode(tiles(images, self.config.image_size))
        return quantise(mean / step), step

    @staticmethod
    def _prior_bits(symbols: torch.Tensor, step: float) -> torch.Tensor:
        """Bits of symbols (multiples of ``step``) under the prior N(0, 1): unit bins of a Gaussian of std 1/step."""
        return information(gaussian_likelihood(symbols, torch.tensor(1 / step))).sum()

    @staticmethod
    def _prior_indices(count: int, step: float, check) -> np.ndarray:
        index = scale_indices(np.array([1 / step]))
        check.add(index)
        return np.repeat(index, count)

    @torch.no_grad()
    def code(self, images: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        decoded, bits = [], []
        for image in images:
            symbols, step = self._symbols(image[None], quality)
            decoded.append(untile(self.decode(symbols * step), image.shape[-2:]))
            bits.append(self._prior_bits(symbols, step))
        return torch.cat(decoded), torch.stack(bits)

    @torch.no_grad()
    def compress(self, images: torch.Tensor, quality: int, writer, check) -> float:
        symbols, step = self._symbols(images, quality)
        writer.gaussian(symbols.to("cpu", torch.int32).numpy(), self._prior_indices(symbols.numel(), step, check))
        return float(self._prior_bits(symbols, step))

    @torch.no_grad()
    def decompress(self, reader, shape: tuple[int, int, int], quality: int, check) -> torch.Tensor:
        step = self._code_step(quality)
        side = self.config.image_size
        count = -(-shape[1] // side) * -(-shape[2] // side) * self.config.latent_dim
        symbols = torch.from_numpy(reader.gaussian(self._prior_indices(count, step, check))).float()
        device = next(self.parameters()).device
        latents = symbols.reshape(-1, self.config.latent_dim).to(device) * step
        return untile(self.decode(latents), shape[1:])

    def refined(self, inputs: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """Decoder outputs corrected using the (damaged) ``inputs``; a plain VAE has no correction."""
        return decoded

    @torch.no_grad()
    def interpolate(
        self,
        start: torch.Tensor,
        end: torch.Tensor,
        steps: int = 8,
        *,
        mode: str = "slerp",
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Images along the latent path between two images (each 1xCxHxW) -> (steps, C, H, W)."""
        pair = torch.cat([start, end])
        pair_labels = None if labels is None else torch.as_tensor(labels).reshape(-1).expand(2)
        mean, _ = self.encode(pair, pair_labels)
        path = interpolate_latents(mean[0], mean[1], steps, mode=mode)
        path_labels = None if labels is None else torch.as_tensor(labels).reshape(-1)[:1].expand(steps)
        return self.decode(path, path_labels)

    @torch.no_grad()
    def traverse(
        self,
        image: torch.Tensor,
        *,
        dims: list[int] | None = None,
        values: int = 9,
        span: float = 3.0,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Vary one latent at a time from -span to +span around an image's code.

        Returns (len(dims) * values, C, H, W): one row per latent dimension.
        """
        mean, _ = self.encode(image, labels)
        dims = list(range(self.config.latent_dim)) if dims is None else dims
        grid = torch.linspace(-span, span, values, device=mean.device)
        latents = mean.repeat(len(dims) * values, 1)
        for row, dim in enumerate(dims):
            latents[row * values : (row + 1) * values, dim] = grid
        row_labels = None if labels is None else torch.as_tensor(labels).reshape(-1)[:1].expand(len(latents))
        return self.decode(latents, row_labels)

    def represent(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior mean, for linear probes (an unconditional encoder: a conditional one sees the label)."""
        if self.conditional:
            raise InputError(
                f"model {self.registered_name!r} encodes with the class label; its features would "
                "leak the answer to a probe"
            )
        return self.encode(images)[0]

    @torch.no_grad()
    def likelihood(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        importance_samples: int = 500,
        batch_size: int = 64,
        generator: torch.Generator | None = None,
        progress=None,
    ) -> dict:
        """Test-set ELBO and importance-weighted NLL (nats per image, and bits per dimension).

        The IW bound uses ``importance_samples`` (k) posterior samples per image:
        NLL ~= -log (1/k) sum_k p(x, z_k) / q(z_k | x), tighter than -ELBO and exact as k -> infinity.
        """
        device = next(self.parameters()).device
        elbos, nlls = [], []
        k = importance_samples
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            y = None if labels is None or not self.conditional else labels[start : start + batch_size]
            mean, log_var = self.encode(x, y)
            std = torch.exp(0.5 * log_var)
            log_weights = []
            chunk = max(1, 4096 // len(x))  # posterior samples per decoder pass
            for s in range(0, k, chunk):
                n = min(chunk, k - s)
                eps = torch.randn(n, *mean.shape, generator=generator).to(device)
                z = mean[None] + std[None] * eps  # (n, B, D)
                flat_z = z.reshape(-1, z.shape[-1])
                x_rep = x[None].expand(n, *x.shape).reshape(-1, *x.shape[1:])
                y_rep = None if y is None else y[None].expand(n, -1).reshape(-1)
                log_px = self.log_likelihood(self.decode_logits(flat_z, y_rep), x_rep).view(n, -1)
                log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
                log_qz = gaussian_log_density(z, mean[None], log_var[None]).sum(-1)
                log_weights.append(log_px + log_pz - log_qz)
            log_w = torch.cat(log_weights)  # (k, B)
            elbos.append(log_w.mean(dim=0))
            nlls.append(-(torch.logsumexp(log_w, dim=0) - math.log(k)))
            if progress is not None:
                progress(len(x))
        elbo = torch.cat(elbos).mean().item()
        nll = torch.cat(nlls).mean().item()
        dims = images[0].numel()
        return {
            "elbo": elbo,
            "iw_nll": nll,
            "iw_samples": k,
            "nll_bits_per_dim": nll / (dims * math.log(2)),
            "likelihood": self.config.likelihood,
            "n_images": len(images),
        }


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(log_var))."""
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * torch.exp(-log_var))


def stratified_log_weights(batch: int, dataset_size: int, device) -> torch.Tensor:
    """Log importance weights (B, B) of minibatch-stratified sampling (Chen et al. 2018, appendix C.2).

    Row i estimates q(z_i) from the batch: its own x_i gets weight 1/N, one other sample (the stratum that
    also covers the remaining N - M points) gets (N - M) / (N M), and the rest get 1/M, with M = B - 1.
    """
    n, m = dataset_size, batch - 1
    if m < 1:
        raise ConfigError("beta-TCVAE needs a batch of at least 2")
    weights = torch.full((batch, batch), 1.0 / m, device=device)
    index = torch.arange(batch, device=device)
    weights[index, index] = 1.0 / n
    weights[index, (index + 1) % batch] = (n - m) / (n * m)
    return weights.log()


def interpolate_latents(start: torch.Tensor, end: torch.Tensor, steps: int, *, mode: str = "slerp") -> torch.Tensor:
    """Points from ``start`` to ``end`` (each (D,)) -> (steps, D). ``slerp`` follows the great circle,
    which keeps Gaussian codes at a typical norm; ``lerp`` is the straight line."""
    if mode not in ("lerp", "slerp"):
        raise InputError(f"unknown interpolation {mode!r}; valid: lerp, slerp")
    t = torch.linspace(0.0, 1.0, steps, device=start.device)[:, None]
    if mode == "lerp":
        return (1 - t) * start + t * end
    cos_angle = F.cosine_similarity(start, end, dim=0).clamp(-1 + 1e-7, 1 - 1e-7)
    angle = torch.arccos(cos_angle)
    if angle < 1e-4:
        return (1 - t) * start + t * end
    return (torch.sin((1 - t) * angle) * start + torch.sin(t * angle) * end) / torch.sin(angle)
