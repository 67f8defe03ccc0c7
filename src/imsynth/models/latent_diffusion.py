"""Latent diffusion (Rombach et al. 2022): diffusion in the latent of a trained imsynth autoencoder, decoded to
images by it, far cheaper per step than in pixels.

``imsynth train latent-ddpm --data fashion-mnist --set autoencoder=runs/vae`` reads the autoencoder run (a family
that declares an encoder and a latent decoder: vae, beta-vae, ...) once; its config and weights become part of this
run (frozen, never trained), so the run stands alone. Training encodes each batch to its posterior means (or draws
of q(z | x), ``latents``) and trains a residual MLP denoiser on them with the diffusion objective of the run's
config (v, eps or flow's velocity; every schedule); 20x the images per second of the pixel UNet here. Sampling
runs any sampler of the table in the latent and decodes. The autoencoder's round trip bounds what the samples can reach:
``eval`` reports the FID of the test images' reconstructions beside the samples' as that floor.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import nn

from ..config import from_dict, to_dict
from ..errors import InputError
from .base import build_model, get_entry, register_model, require
from .capabilities import Encoder, LatentMap, LatentModel
from .diffusion import DIFFUSION_TRAINING, DiffusionBase, DiffusionConfig
from .loading import load_run
from .samplers import SAMPLERS
from .unet import UNet, timestep_embedding


@dataclass
class LatentDiffusionConfig(DiffusionConfig):
    search_space: ClassVar[dict] = {
        "train.lr": {"low": 2e-4, "high": 3e-3, "log": True},
        "hidden": {"choices": [256, 512, 1024]},
        "blocks": {"choices": [2, 4, 6]},
        "schedule": {"choices": ["cosine", "flow"]},
        "prediction": {"choices": ["v", "flow", "edm"]},
        "noise_levels": {"choices": ["uniform", "edm"]},
    }
    autoencoder: str = ""  # the autoencoder run, read when training starts
    autoencoder_model: str = ""  # filled from it: its family and config (JSON), so the run stands alone
    autoencoder_config: str = ""
    hidden: int = 512
    blocks: int = 4
    # the denoiser: a residual MLP on the flattened latent (any autoencoder), or the pixel family's UNet on a
    # spatial autoencoder's latent maps (vae --set latent_channels=N), as Rombach et al.'s, at the config's width
    denoiser: Literal["mlp", "unet"] = "mlp"
    # what the diffusion learns: the posterior mean of each image (default; the two-stage VAE's choice: its
    # aggregate is far from N(0, I), so there is something to learn, and it decodes to the round trip) or a draw
    # of q(z | x), whose aggregate a VAE's KL term pulls to N(0, I): measured, its samples were the VAE's own
    latents: Literal["mean", "sample"] = "mean"
    clip_denoised: bool = False  # latents are not bounded to [-1, 1]
    # UniPC-10: within 4% of DDIM-50 under both feature networks and 1.5x DPM-Solver++-20's rate (docs/benchmarks.md,
    # "On a latent diffusion run"); runs saved before keep the sampler in their config
    sampler: str = field(default="unipc", metadata={"choices": SAMPLERS})
    sample_steps: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.hidden >= 8 and self.blocks >= 1, "hidden must be >= 8 and blocks >= 1")
        require(not self.clip_denoised, "clip_denoised clamps to [-1, 1]; a latent is not bounded (leave it off)")


class LatentDenoiser(nn.Module):
    """A residual MLP on (B, D) latents: time (and class) embedding added in every block; the UNet's signature."""

    def __init__(self, dim: int, hidden: int, blocks: int, num_classes: int = 0) -> None:
        super().__init__()
        self.hidden = hidden
        self.time = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.classes = nn.Embedding(num_classes + 1, hidden) if num_classes else None
        self.inp = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "norm": nn.LayerNorm(hidden),
                    "embedding": nn.Linear(hidden, hidden),
                    "mlp": nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.SiLU(), nn.Linear(2 * hidden, hidden)),
                }
            )
            for _ in range(blocks)
        )
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedding = self.time(timestep_embedding(t, self.hidden).to(x.dtype))
        if self.classes is not None and labels is not None:
            embedding = embedding + self.classes(labels)
        h = self.inp(x)
        for block in self.blocks:
            h = h + block["mlp"](block["norm"](h) + block["embedding"](nn.functional.silu(embedding)))
        return self.out(h)


class MapDenoiser(nn.Module):
    """The UNet on (B, D) latents that are flattened (channels, side, side) maps: unflattened in, flattened out."""

    def __init__(self, shape: tuple[int, int, int], config: LatentDiffusionConfig, num_classes: int = 0) -> None:
        super().__init__()
        self.shape = shape
        self.unet = UNet(
            channels=shape[0],
            image_size=shape[1],
            width=config.width,
            channel_multipliers=config.channel_multipliers or (1,),
            blocks_per_level=config.blocks_per_level,
            attention_sides=config.attention_sides,
            heads=config.heads,
            dropout=config.dropout,
            num_classes=num_classes,
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.unet(x.view(-1, *self.shape), t, labels).flatten(1)


@register_model(
    "latent-ddpm",
    tiny={"hidden": 16, "blocks": 1, "timesteps": 100, "sample_steps": 5, "sample_precision": "fp32"},
    description="latent diffusion: a residual MLP (or a UNet on a spatial latent) denoiser in the latent of an autoencoder run "
    "(--set autoencoder=RUN), decoded by it; UniPC-10 sampling",
    train_defaults={**DIFFUSION_TRAINING, "lr": 1e-3, "batch_size": 256},
)
class LatentDiffusion(DiffusionBase):
    config_class = LatentDiffusionConfig
    capabilities = frozenset({"sample", "image", "latent", "iterative-sampler", "autoencoded"})
    bounded = False
    sample_batch_size = 500

    def __init__(self, config: LatentDiffusionConfig) -> None:
        autoencoder, config = _autoencoder_for(config)
        classes = config.num_classes if config.conditional else 0
        if config.denoiser == "unet":
            network = MapDenoiser(_latent_map(autoencoder, config), config, classes)
        else:
            network = LatentDenoiser(autoencoder.latent_dim, config.hidden, config.blocks, classes)
        super().__init__(config, network=network)
        self.autoencoder = autoencoder.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> LatentDiffusion:
        super().train(mode)
        self.autoencoder.eval()  # frozen: its dropout and norms stay in inference mode
        return self

    @property
    def latent_dim(self) -> int:
        return self.autoencoder.latent_dim

    def noise_shape(self) -> tuple[int, ...]:
        return (self.autoencoder.latent_dim,)

    @torch.no_grad()
    def diffused(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The latents (B, D) the diffusion learns for ``images``: the posterior mean, or a draw of q(z | x)."""
        mean, log_variance = self.autoencoder.encode(images.float(), labels)
        if self.config.latents == "mean":
            return mean
        return mean + (0.5 * log_variance).exp() * torch.randn_like(mean)

    def decode(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = labels if self.autoencoder.conditional else None
        return self.autoencoder.decode_latents(latents.float(), labels).clamp(-1, 1)

    @torch.no_grad()
    def sample_latents(self, count: int, *, labels=None, **options) -> torch.Tensor:
        """``count`` latents (B, D) drawn by the reverse process (options as ``sample``)."""
        return super().sample(count, labels=labels, **options)

    @torch.no_grad()
    def sample(self, count: int, *, labels=None, **options) -> torch.Tensor:
        latents = self.sample_latents(count, labels=labels, **options)
        return self.decode(latents, None if labels is None else self.check_labels(labels, count))

    @torch.no_grad()
    def autoencoder_round_trip(self, images: torch.Tensor) -> torch.Tensor:
        """The autoencoder's reconstruction (posterior mean, decoded): the floor of the samples' quality."""
        mean, _ = self.autoencoder.encode(images.float())
        return self.decode(mean)


def _latent_map(autoencoder, config: LatentDiffusionConfig) -> tuple[int, int, int]:
    shape = autoencoder.latent_map if isinstance(autoencoder, LatentMap) else None
    if shape is None:
        raise InputError(
            f"{config.autoencoder or 'the autoencoder'}: denoiser=unet needs an autoencoder with a spatial latent "
            "(vae --set latent_channels=N); this one's latent is a vector (use denoiser=mlp)"
        )
    return shape


def _autoencoder_for(config: LatentDiffusionConfig):
    """The frozen autoencoder a config names: built from the config it carries (a saved run), else read from the
    run ``autoencoder`` (its config copied into the returned config, its weights loaded)."""
    if config.autoencoder_model:
        entry = get_entry(config.autoencoder_model)
        inner = from_dict(entry.model_class.config_class, json.loads(config.autoencoder_config), where="autoencoder")
        return build_model(config.autoencoder_model, inner), config
    if not config.autoencoder:
        raise InputError("latent-ddpm needs an autoencoder run: --set autoencoder=RUN (a vae run, say)")
    model, saved = load_run(config.autoencoder)
    if not (isinstance(model, Encoder) and isinstance(model, LatentModel)) or "encoder" not in model.capabilities:
        raise InputError(
            f"{config.autoencoder}: latent-ddpm needs an autoencoder run (an encoder and a latent decoder, as vae); "
            f"this is a {saved['model']} run"
        )
    inner = model.config
    if (inner.channels, inner.image_size) != (config.channels, config.image_size):
        raise InputError(
            f"{config.autoencoder}: the autoencoder takes {inner.channels}x{inner.image_size}x{inner.image_size} "
            f"images, the data {config.channels}x{config.image_size}x{config.image_size}"
        )
    config = dataclasses.replace(
        config, autoencoder_model=saved["model"], autoencoder_config=json.dumps(to_dict(inner))
    )
    return model.cpu(), config
