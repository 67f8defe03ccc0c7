"""An autoencoder for latent diffusion, trained as Rombach et al. 2022 train theirs (after Esser et al. 2021's VQGAN):
the VAE's objective plus a PatchGAN's hinge loss on the reconstructions, weighted adaptively (``adversarial.py``).

The latent family's samples can be no sharper than its autoencoder's round trip, and on Fashion-MNIST that floor was
most of its FID; a likelihood alone draws a blur. The discriminator starts after ``adversarial_start`` steps, once the
reconstructions are worth judging.

``imsynth train vae-gan --data fashion-mnist``; its runs are ordinary VAE runs (sample, reconstruct, eval), and
``latent-ddpm --set autoencoder=RUN`` takes them. The perceptual (LPIPS) term of those papers is left out: its
network would have to be downloaded, and the shipped feature networks are the metric's, so they must not train it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .adversarial import JudgeSettings, PatchJudged
from .base import register_model
from .vae import VAE, VAE_TINY, VAEConfig


@dataclass
class VAEGANConfig(JudgeSettings, VAEConfig):
    latent_dim: int = 64
    beta: float = 0.01  # the latent family's autoencoder: a light KL, so the latent keeps detail (vae/latent-cpu-30min)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_judge()


@register_model(
    "vae-gan",
    tiny={**VAE_TINY, "d_width": 4, "d_layers": 1, "adversarial_start": 0},
    description="VAE + PatchGAN (hinge, adaptive weight): a sharper autoencoder for latent-ddpm (Rombach et al. 2022)",
)
class VAEGAN(PatchJudged, VAE):
    config_class = VAEGANConfig
    has_judge = True  # even at adversarial_weight 0: its runs have always saved a judge

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__(config)
        self.build_judge(config.channels)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        with context.autocast():
            output, decoded = self.objective_and_decoded(images, images, labels, step=context.step, noise=context.randn)
        logged = {"loss": output.loss.detach(), **output.parts}
        last = self.decoder.body[-1].weight
        return self.judged_step(context, output.loss, logged, images, self.mean_image(decoded), last)
