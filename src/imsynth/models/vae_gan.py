"""An autoencoder for latent diffusion, trained as Rombach et al. 2022 train theirs (after Esser et al. 2021's VQGAN):
the VAE's objective plus a PatchGAN's hinge loss on the reconstructions, weighted adaptively.

A likelihood alone makes a decoder draw the mean of what a latent could be, a blur; the latent family's samples can
be no sharper than its autoencoder's round trip, and on Fashion-MNIST that floor was most of its FID. A patch
discriminator judges local texture, so the decoder is pulled from the blur toward something that looks like an
image, while the likelihood keeps it on the right image. The adversarial term's weight is set every step so that its
gradient at the decoder's last layer is ``adversarial_weight`` times the likelihood's (VQGAN's adaptive weight), which
makes the weight mean the same whatever the likelihood's scale (nats summed over pixels) and the step. The
discriminator starts after ``adversarial_start`` steps, once the reconstructions are worth judging.

``imsynth train vae-gan --data fashion-mnist``; its runs are ordinary VAE runs (sample, reconstruct, eval), and
``latent-ddpm --set autoencoder=RUN`` takes them. The perceptual (LPIPS) term of those papers is left out: its
network would have to be downloaded, and the shipped feature networks are the metric's, so they must not train it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import register_model, require
from .gan import GAN_LOSSES, r1_penalty
from .translation import PatchGAN
from .vae import VAE, VAE_TINY, VAEConfig


@dataclass
class VAEGANConfig(VAEConfig):
    latent_dim: int = 64
    beta: float = 0.01  # the latent family's autoencoder: a light KL, so the latent keeps detail (vae/latent-cpu-30min)
    adversarial_weight: float = 0.5  # the adversarial gradient at the decoder's last layer, per the likelihood's
    adversarial_start: int = 1000  # steps of the plain VAE objective before the discriminator joins
    d_width: int = 32
    d_layers: int = 2  # stride-2 layers: at 28 px a logit then sees 18 px
    d_lr: float = 2e-4
    # lazy R1 on real images (as the GAN family's): a smoother judge. Tried against the autoencoder's run-to-run
    # spread at 0.1 and 0.001 (one run each): neither moved the floor outside it (docs/benchmarks.md), so it stays off
    r1_weight: float = 0.0
    r1_every: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.adversarial_weight >= 0, f"adversarial_weight must be >= 0, got {self.adversarial_weight}")
        require(self.adversarial_start >= 0, f"adversarial_start must be >= 0, got {self.adversarial_start}")
        require(self.d_width >= 1 and self.d_layers >= 1, "d_width and d_layers must be >= 1")
        require(self.d_lr > 0, f"d_lr must be > 0, got {self.d_lr}")
        require(self.r1_weight >= 0 and self.r1_every >= 1, "r1_weight must be >= 0 and r1_every >= 1")


@register_model(
    "vae-gan",
    tiny={**VAE_TINY, "d_width": 4, "d_layers": 1, "adversarial_start": 0},
    description="VAE + PatchGAN (hinge, adaptive weight): a sharper autoencoder for latent-ddpm (Rombach et al. 2022)",
)
class VAEGAN(VAE):
    config_class = VAEGANConfig
    adversarial_loss = GAN_LOSSES.get("hinge")  # the GAN table's row, as VQGAN's and SNGAN's

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__(config)
        self.discriminator = PatchGAN(config.channels, config.d_width, config.d_layers, torch.nn.BatchNorm2d)

    def optimizer_groups(self) -> dict:
        own = [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
        judge = {"params": list(self.discriminator.parameters()), "lr": self.config.d_lr, "betas": (0.5, 0.9)}
        return {"model": {"params": own}, "discriminator": judge}

    def ema_parameter_names(self) -> set[str]:
        return {name for name, _ in self.named_parameters() if not name.startswith("discriminator.")}

    def adaptive_weight(self, likelihood_loss: torch.Tensor, adversarial_loss: torch.Tensor) -> torch.Tensor:
        """VQGAN's: the ratio of the two losses' gradient norms at the decoder's last layer, times the config's."""
        last = self.decoder.body[-1].weight
        (likelihood_grad,) = torch.autograd.grad(likelihood_loss, last, retain_graph=True)
        (adversarial_grad,) = torch.autograd.grad(adversarial_loss, last, retain_graph=True)
        ratio = likelihood_grad.float().norm() / (adversarial_grad.float().norm() + 1e-4)
        return self.config.adversarial_weight * ratio.clamp(max=1e4).detach()

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        config = self.config
        judged = context.step >= config.adversarial_start and config.adversarial_weight > 0
        with context.autocast():
            output, decoded = self.objective_and_decoded(images, images, labels, step=context.step, noise=context.randn)
        logged = {"loss": output.loss.detach(), **output.parts}
        total = output.loss
        reconstructions = self.mean_image(decoded)
        if judged:
            self.discriminator.requires_grad_(False)  # the decoder's update: D takes no gradient
            with context.autocast():
                g_loss = self.adversarial_loss.generator(self.discriminator(reconstructions).float())
            weight = self.adaptive_weight(output.loss, g_loss)
            total = total + weight * g_loss
            logged.update(g_loss=g_loss.detach(), adversarial_weight=weight)
            self.discriminator.requires_grad_(True)
        context.backward_step("model", total)
        if judged:
            lazy_r1 = config.r1_weight > 0 and context.step % config.r1_every == 0
            with context.autocast():
                if lazy_r1:
                    r1, real = r1_penalty(self.discriminator, images)
                else:
                    real = self.discriminator(images).float()
                fake = self.discriminator(reconstructions.detach()).float()
                d_loss = self.adversarial_loss.discriminator(real, fake)
            d_total = d_loss
            if lazy_r1:  # StyleGAN2's lazy form: every r1_every steps, scaled by it
                d_total = d_loss + 0.5 * config.r1_weight * config.r1_every * r1
                logged["r1"] = r1.detach()
            context.backward_step("discriminator", d_total)
            logged.update(d_loss=d_loss.detach(), d_real=real.detach().mean(), d_fake=fake.detach().mean())
        return logged
