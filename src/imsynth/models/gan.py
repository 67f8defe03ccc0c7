"""The GAN family on the shared engine: DCGAN, WGAN-GP and SNGAN as defaults of one method.

A step runs ``n_critic`` discriminator updates (each on its own real batch: the engine hands over
``n_critic`` batches at once) and one generator update on the last critic update's fakes, through ``context.backward_step`` with two optimiser
groups, so the engine's precision, gradient averaging, schedule, EMA (generator only), checkpoints and
stability guard apply unchanged.

Losses on discriminator logits r (real) and f (fake):
- ``non-saturating``: D softplus(-r) + softplus(f); G softplus(-f)   (Goodfellow et al. 2014, the usual G loss)
- ``minimax``:        D as above;               G -softplus(f)     (the original saturating game)
- ``hinge``:          D relu(1 - r) + relu(1 + f); G -f            (Lim & Ye 2017; SNGAN)
- ``wasserstein``:    D f - r;                   G -f              (needs gp_weight > 0 or spectral_norm)
- ``least-squares``:  D ((r - 1)^2 + f^2) / 2;   G (f - 1)^2 / 2   (Mao et al. 2017)
Regularisers: gradient penalty on real/fake interpolates (Gulrajani et al. 2017), lazy R1 on reals
(Mescheder et al. 2018; every ``r1_every`` steps, scaled by it, as in StyleGAN2), spectral norm on D.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..tables import Table
from .base import DataShape, GenerativeModel, register_model, require
from .gan_networks import DCGANDiscriminator, DCGANGenerator, ResNetDiscriminator, ResNetGenerator

AUGMENTATIONS = ("color", "translation", "cutout")


@dataclass(frozen=True)
class GANLoss:
    """A row of the GAN-loss table: the discriminator's and the generator's loss on D's logits."""

    name: str
    description: str
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real logits, fake logits) -> loss
    generator: Callable[[torch.Tensor], torch.Tensor]  # fake logits -> loss
    needs_lipschitz: bool = False  # unbounded critic: needs a gradient penalty or spectral norm
    d_loss_floor_applies: bool = True  # "D loss near 0" means D wins (not for a critic whose loss goes negative)
    searched: bool = True  # offered by imsynth tune's default space
    options: tuple = ()


GAN_LOSSES: Table[GANLoss] = Table("GAN loss")
for _loss in (
    GANLoss(
        "non-saturating",
        "Goodfellow et al. 2014 with -log D(G(z)) for G",
        lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
        lambda fake: F.softplus(-fake).mean(),
    ),
    GANLoss(
        "minimax",
        "the original minimax game (G minimises log(1 - D(G(z))))",
        lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
        lambda fake: -F.softplus(fake).mean(),
        searched=False,  # G's gradient vanishes while D wins early (Goodfellow et al.): a wasted trial
    ),
    GANLoss(
        "hinge",
        "hinge loss for D, -D(G(z)) for G (SNGAN, BigGAN)",
        lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
        lambda fake: -fake.mean(),
    ),
    GANLoss(
        "wasserstein",
        "WGAN critic: D(fake) - D(real); needs gp_weight or spectral_norm",
        lambda real, fake: fake.mean() - real.mean(),
        lambda fake: -fake.mean(),
        needs_lipschitz=True,
        d_loss_floor_applies=False,
    ),
    GANLoss(
        "least-squares",
        "LSGAN (Mao et al. 2017): squared distance to the labels 1 (real) and 0 (fake)",
        lambda real, fake: 0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean()),
        lambda fake: 0.5 * (fake - 1).pow(2).mean(),
    ),
):
    GAN_LOSSES.add(_loss)


def r1_penalty(discriminate, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E[||grad D(x)||^2] on real images (Mescheder et al. 2018), with the real logits of the same pass; one function
    for every family with a discriminator (the GANs, vae-gan)."""
    points = real.detach().requires_grad_(True)
    logits = discriminate(points).float()
    (grad,) = torch.autograd.grad(logits.sum(), points, create_graph=True)
    return grad.float().flatten(1).pow(2).sum(dim=1).mean(), logits


@dataclass
class GANConfig(DataShape):
    search_space: ClassVar[dict] = {
        "g_lr": {"low": 5e-5, "high": 1e-3, "log": True},
        "d_lr": {"low": 5e-5, "high": 1e-3, "log": True},
        "g_width": {"choices": [32, 48, 64]},
        "d_width": {"choices": [32, 48, 64]},
        "latent_dim": {"choices": [64, 100, 128]},
        "train.batch_size": {"choices": [32, 64, 128]},
        "train.ema_decay": {"choices": [0.0, 0.99, 0.999]},
        # the losses that need no Lipschitz constraint, so every draw is a valid config
        "loss": {"choices": [n for n, loss in GAN_LOSSES.items() if loss.searched and not loss.needs_lipschitz]},
    }
    architecture: Literal["dcgan", "resnet"] = "dcgan"
    latent_dim: int = 128
    g_width: int = 64
    d_width: int = 64
    g_activation: Literal["relu", "leaky_relu", "tanh"] = "relu"
    d_activation: Literal["leaky_relu", "relu", "tanh"] = "leaky_relu"
    g_norm: Literal["batch", "none"] = "batch"
    d_norm: Literal["none", "batch"] = "none"
    spectral_norm: bool = False
    loss: str = field(default="non-saturating", metadata={"choices": GAN_LOSSES})
    gp_weight: float = 0.0
    r1_weight: float = 0.0
    r1_every: int = 16
    n_critic: int = 1
    # two-timescale update rule: separate learning rates and Adam betas (train.lr is not used by GANs)
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    g_betas: tuple[float, float] = (0.5, 0.999)
    d_betas: tuple[float, float] = (0.5, 0.999)
    diffaugment: str = ""  # comma-separated: color, translation, cutout (Zhao et al. 2020)
    # collapse signals for the engine's guard, checked on each logged row after guard_after steps
    guard_after: int = 500
    guard_patience: int = 5
    guard_d_loss_floor: float = 1e-3
    guard_diversity_floor: float = 0.05
    guard_grad_norm: float = 1e4

    def __post_init__(self) -> None:
        require(
            self.latent_dim >= 1 and self.g_width >= 1 and self.d_width >= 1,
            "latent_dim, g_width and d_width must be >= 1",
        )
        require(self.n_critic >= 1 and self.r1_every >= 1, "n_critic and r1_every must be >= 1")
        require(self.gp_weight >= 0 and self.r1_weight >= 0, "gp_weight and r1_weight must be >= 0")
        require(self.g_lr > 0 and self.d_lr > 0, "g_lr and d_lr must be > 0")
        require(self.loss in GAN_LOSSES, f"unknown GAN loss {self.loss!r}; valid: {', '.join(GAN_LOSSES.names())}")
        require(
            not (GAN_LOSSES.get(self.loss).needs_lipschitz and self.gp_weight == 0 and not self.spectral_norm),
            f"the {self.loss} loss needs a Lipschitz constraint: --set gp_weight=10 or spectral_norm=true",
        )
        require(
            not (self.gp_weight > 0 and self.d_norm == "batch"),
            "a gradient penalty is per sample; batch norm in D mixes samples: use d_norm=none",
        )
        for name in self.augmentations:
            require(name in AUGMENTATIONS, f"unknown diffaugment {name!r}; valid: {', '.join(AUGMENTATIONS)}")

    @property
    def augmentations(self) -> list[str]:
        return [part.strip() for part in self.diffaugment.split(",") if part.strip()]


GAN_TINY = {"latent_dim": 8, "g_width": 8, "d_width": 8}
GAN_TRAINING = dict(
    schedule="constant",
    warmup_steps=0,
    grad_clip=0.0,
    batch_size=64,
    ema_decay=0.999,
    fid_every=500,
    fid_samples=1000,
    sample_every=500,
    checkpoint_every=500,
)


class Adversarial(GenerativeModel):
    """The two-player game every GAN family plays on the engine (its step, losses, penalties, collapse guard and
    sampling); a family gives it a ``generator`` (z (B, latent_dim) [+ labels] -> samples) and a
    ``discriminator`` (samples [+ labels] -> logits (B,) or more per sample)."""

    def __init__(self, config: GANConfig, *, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__(config)
        self.generator, self.discriminator = generator, discriminator
        self._streaks = {"d_loss": 0, "diversity": 0}

    @property
    def batches_per_step(self) -> int:
        return self.config.n_critic

    def optimizer_groups(self) -> dict:
        config = self.config
        return {
            "discriminator": {
                "params": list(self.discriminator.parameters()),
                "lr": config.d_lr,
                "betas": config.d_betas,
            },
            "generator": {"params": list(self.generator.parameters()), "lr": config.g_lr, "betas": config.g_betas},
        }

    def ema_parameter_names(self) -> set[str]:
        return {name for name, _ in self.named_parameters() if name.startswith("generator.")}

    # -- the objective ----------------------------------------------------------------------------
    def _labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        return labels if self.conditional else None

    def discriminate(self, images: torch.Tensor, labels: torch.Tensor | None, uniform=None) -> torch.Tensor:
        if self.config.augmentations and uniform is not None:
            images = diff_augment(images, self.config.augmentations, uniform)
        return self.discriminator(images, self._labels(labels)).float()

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return GAN_LOSSES.get(self.config.loss).discriminator(real_logits, fake_logits)

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return GAN_LOSSES.get(self.config.loss).generator(fake_logits)

    def gradient_penalty(self, real, fake, labels, uniform) -> torch.Tensor:
        """E[(||grad D(x_hat)|| - 1)^2] on random interpolates of real and fake images."""
        mix = uniform((len(real),) + (1,) * (real.ndim - 1)).to(real)
        points = (mix * real.detach() + (1 - mix) * fake.detach()).requires_grad_(True)
        logits = self.discriminator(points, self._labels(labels))
        (grad,) = torch.autograd.grad(logits.float().sum(), points, create_graph=True)
        return (grad.float().flatten(1).norm(dim=1) - 1).pow(2).mean()

    def r1_penalty(self, real, labels, uniform) -> tuple[torch.Tensor, torch.Tensor]:
        return r1_penalty(lambda points: self.discriminate(points, labels, uniform), real)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        config = self.config
        critic_images = images.chunk(config.n_critic)
        critic_labels = labels.chunk(config.n_critic) if labels is not None else [None] * config.n_critic
        logged: dict = {}
        self.discriminator.requires_grad_(True)
        last = config.n_critic - 1
        for index, (real, real_labels) in enumerate(zip(critic_images, critic_labels)):
            z = context.randn((len(real), config.latent_dim))
            lazy_r1 = config.r1_weight > 0 and index == 0 and context.step % config.r1_every == 0
            with context.autocast():
                # The last critic update's fakes are made with their graph kept and reused by the generator
                # update (as in the PyTorch DCGAN example): one generator forward pass fewer per step.
                with torch.set_grad_enabled(index == last):
                    made = self.generator(z, self._labels(real_labels))
                fake = made.detach()
                if lazy_r1:
                    r1, real_logits = self.r1_penalty(real, real_labels, context.uniform)
                else:
                    real_logits = self.discriminate(real, real_labels, context.uniform)
                fake_logits = self.discriminate(fake, real_labels, context.uniform)
                d_loss = self.discriminator_loss(real_logits, fake_logits)
                total = d_loss
                if config.gp_weight > 0:
                    penalty = self.gradient_penalty(real, fake, real_labels, context.uniform)
                    total = total + config.gp_weight * penalty
                    logged["gp"] = penalty.detach()
                if lazy_r1:
                    total = total + 0.5 * config.r1_weight * config.r1_every * r1
                    logged["r1"] = r1.detach()
            context.backward_step("discriminator", total)
        logged.update(d_loss=d_loss.detach(), d_real=real_logits.detach().mean(), d_fake=fake_logits.detach().mean())
        # the generator step on the same fakes, judged by the updated D; D's weights take no gradient
        self.discriminator.requires_grad_(False)
        real, real_labels, fake = critic_images[-1], critic_labels[-1], made
        with context.autocast():
            g_loss = self.generator_loss(self.discriminate(fake, real_labels, context.uniform))
        context.backward_step("generator", g_loss)
        self.discriminator.requires_grad_(True)
        with torch.no_grad():
            spread = real.float().std(dim=0).mean().clamp_min(1e-6)
            logged["diversity"] = fake.detach().float().std(dim=0).mean() / spread
        logged["g_loss"] = g_loss.detach()
        return logged

    def health(self, logged: dict) -> str | None:
        """Collapse signals: D loss stuck near 0, exploding G gradients, collapsed sample diversity."""
        config = self.config
        if logged.get("step", 0) < config.guard_after:
            return None
        grad = logged.get("grad_norm_generator", 0.0)
        if grad > config.guard_grad_norm:
            return f"generator gradient norm {grad:.3g} exceeds {config.guard_grad_norm:g}"
        signals = {
            "d_loss": GAN_LOSSES.get(config.loss).d_loss_floor_applies
            and logged.get("d_loss", 1.0) < config.guard_d_loss_floor,
            "diversity": logged.get("diversity", 1.0) < config.guard_diversity_floor,
        }
        for name, bad in signals.items():
            self._streaks[name] = self._streaks[name] + 1 if bad else 0
        if self._streaks["d_loss"] >= config.guard_patience:
            self._streaks["d_loss"] = 0
            return (
                f"discriminator loss below {config.guard_d_loss_floor:g} for {config.guard_patience} logged steps "
                "(D wins, G gets no signal)"
            )
        if self._streaks["diversity"] >= config.guard_patience:
            self._streaks["diversity"] = 0
            return (
                f"sample diversity below {config.guard_diversity_floor:g} of the data's for "
                f"{config.guard_patience} logged steps (mode collapse)"
            )
        return None

    # -- using the model --------------------------------------------------------------------------
    def generate_from(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples in [-1, 1] for latent codes (B, latent_dim), differentiable."""
        device = next(self.parameters()).device
        labels = self.check_labels(labels, len(latents))
        return self.generator(latents.to(device), None if labels is None else labels.to(device)).float()

    @torch.no_grad()
    def sample(
        self, count: int, *, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        latents = torch.randn(count, self.config.latent_dim, generator=generator)
        return self.generate_from(latents, labels)


@register_model(
    "dcgan",
    tiny=GAN_TINY,
    description="DCGAN: conv G and D with batch norm, non-saturating loss, Adam(0.5, 0.999)",
    train_defaults={**GAN_TRAINING, "batch_size": 128},
    d_norm="batch",
)
@register_model(
    "wgan-gp",
    tiny=GAN_TINY,
    description="WGAN-GP: wasserstein loss, gradient penalty 10, 5 critic steps, Adam(0, 0.9)",
    train_defaults=GAN_TRAINING,
    loss="wasserstein",
    gp_weight=10.0,
    n_critic=5,
    g_lr=1e-4,
    d_lr=1e-4,
    g_betas=(0.0, 0.9),
    d_betas=(0.0, 0.9),
)
@register_model(
    "sngan",
    tiny=GAN_TINY,
    description="SNGAN: ResNet G/D, spectral norm, hinge loss, TTUR (D 4e-4, G 1e-4)",
    train_defaults=GAN_TRAINING,
    architecture="resnet",
    spectral_norm=True,
    loss="hinge",
    d_activation="relu",
    g_lr=1e-4,
    d_lr=4e-4,
    g_betas=(0.0, 0.9),
    d_betas=(0.0, 0.9),
)
class GAN(Adversarial):
    config_class = GANConfig
    capabilities = frozenset({"sample", "image", "latent", "latent-features", "representation"})

    def __init__(
        self, config: GANConfig, *, generator: nn.Module | None = None, discriminator: nn.Module | None = None
    ) -> None:
        classes = config.num_classes if config.conditional else 0
        common = dict(channels=config.channels, image_size=config.image_size, num_classes=classes)
        if config.architecture == "resnet":
            require(config.d_norm == "none", "the ResNet discriminator has no batch norm: use d_norm=none")
        dcgan = config.architecture == "dcgan"
        generator = generator or (DCGANGenerator if dcgan else ResNetGenerator)(
            latent_dim=config.latent_dim, width=config.g_width, activation=config.g_activation, norm=config.g_norm,
            **common,
        )  # fmt: skip
        extra = dict(norm=config.d_norm) if dcgan else {}  # the ResNet discriminator has no batch norm
        discriminator = discriminator or (DCGANDiscriminator if dcgan else ResNetDiscriminator)(
            width=config.d_width, activation=config.d_activation, spectral=config.spectral_norm, **extra, **common
        )
        super().__init__(config, generator=generator, discriminator=discriminator)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def decode_latents(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] for latent codes (B, latent_dim)."""
        return self.generate_from(latents, labels)

    def latent_features(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's first feature map, flattened (for GANSpace-style principal directions)."""
        device = next(self.parameters()).device
        labels = self.check_labels(labels, len(latents))
        return self.generator.first_map(latents.to(device), None if labels is None else labels.to(device)).flatten(1)

    def represent(self, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's last feature map (pooled), for linear probes."""
        return self.discriminator.features(images)


def diff_augment(images: torch.Tensor, policy: list[str], uniform) -> torch.Tensor:
    """Differentiable augmentation (Zhao et al. 2020) applied identically in kind to real and fake batches.

    ``uniform(shape)`` supplies U[0, 1) noise (the engine's, keyed on seed and step). Images are in [-1, 1].
    """
    batch, channels, height, width = images.shape
    x = images
    if "color" in policy:
        x = x + (uniform((batch, 1, 1, 1)).to(x) - 0.5)  # brightness
        if channels > 1:
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (uniform((batch, 1, 1, 1)).to(x) * 2) + mean  # saturation
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (uniform((batch, 1, 1, 1)).to(x) + 0.5) + mean  # contrast
    if "translation" in policy:
        # whole-pixel shifts of up to 1/8 of the side, zero padding, via a nearest-neighbour resampling grid
        limit = torch.tensor([width // 8, height // 8], dtype=torch.float32)
        shift = torch.floor(uniform((batch, 2)).float().cpu() * (2 * limit + 1)) - limit  # integers in [-limit, limit]
        shift = shift.to(x.device)
        theta = torch.zeros(batch, 2, 3, device=x.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, 0, 2] = -2 * shift[:, 0] / width
        theta[:, 1, 2] = -2 * shift[:, 1] / height
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=False)
    if "cutout" in policy:
        size_y, size_x = height // 2, width // 2
        centre = uniform((batch, 2)).to(x.device)
        cy = (centre[:, 0] * (height + 1 - size_y % 2)).floor()[:, None, None]
        cx = (centre[:, 1] * (width + 1 - size_x % 2)).floor()[:, None, None]
        rows = torch.arange(height, device=x.device)[None, :, None]
        cols = torch.arange(width, device=x.device)[None, None, :]
        top, left = cy - size_y // 2, cx - size_x // 2  # a size_y x size_x square, clipped at the border
        hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
        x = x * (~hole)[:, None].to(x.dtype)
    return x
