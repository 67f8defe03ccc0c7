"""The denoising VAE (and the Defense-VAE variant): a VAE that encodes corrupted images and decodes clean ones,
trained on corruptions drawn per image (or on fresh PGD examples against a classifier), so it restores and purifies."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..runtime.attacks import ZeroOne, pgd
from ..runtime.classifier import load_feature_net
from .base import LossOutput, Noise, register_model, require
from .corruption import check_mix, corrupt_batch
from .networks import RefineNet
from .vae import VAE, VAE_TINY, VAEConfig

ALL_CORRUPTIONS = "gaussian,shot,impulse,speckle,rain,lighting,blocks,blur,jpeg"


@dataclass
class DVAEConfig(VAEConfig):
    # comma-separated corruption kinds (``a+b`` composes two) and severities ("1-5", "3", "1,3,5") drawn per image
    corruptions: str = ALL_CORRUPTIONS
    severities: str = "1-5"
    clean_fraction: float = 0.1  # images shown undamaged, so clean inputs come back unchanged
    # a restoration head (a small U-Net) that corrects the decoded image using what the damaged input still
    # shows; off for purification defences, where it would pass an adversarial perturbation straight through
    refine: bool = True
    refine_width: int = 32
    # Defense-VAE (Li & Ji 2019): a share of each batch replaced by PGD examples against ``classifier`` (a shipped
    # feature network's dataset name, or a .safetensors path), made fresh every step
    adversarial_fraction: float = 0.0
    adversarial_eps: float = 0.1
    adversarial_steps: int = 5
    classifier: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_mix(self.corruptions, self.severities)
        require(0 <= self.clean_fraction <= 1, f"clean_fraction must be in [0, 1], got {self.clean_fraction}")
        require(
            0 <= self.adversarial_fraction <= 1 - self.clean_fraction,
            "adversarial_fraction must be in [0, 1 - clean_fraction]",
        )
        require(
            self.adversarial_eps >= 0 and self.adversarial_steps >= 1, "adversarial_eps >= 0, adversarial_steps >= 1"
        )
        require(
            self.adversarial_fraction == 0 or bool(self.classifier),
            "adversarial training examples need a classifier (--set classifier=fashion-mnist or a .safetensors path)",
        )


@register_model(
    "defense-vae",
    tiny=VAE_TINY,
    description="Defense-VAE: a dvae also trained on fresh PGD examples against a classifier",
    likelihood="gaussian",
    latent_dim=32,
    adversarial_fraction=0.5,
    classifier="fashion-mnist",
    refine=False,
)
@register_model(
    "dvae",
    tiny=VAE_TINY,
    description="denoising VAE: corrupted input, ELBO of the clean image (corruptions drawn on the fly)",
    likelihood="gaussian",
    latent_dim=32,
)
class DenoisingVAE(VAE):
    """A VAE whose encoder sees a corrupted image and whose ELBO is that of the clean one (Im et al. 2017's
    denoising criterion), so encode-decode restores. Each image of a batch gets a kind and severity from the
    config's mix, drawn from the engine's keyed noise: training stays reproducible and resumes exactly.

    With ``refine`` (the default), a restoration head adds a correction computed from the damaged input and the
    decoded image, trained by a second reconstruction term of the clean image; the VAE itself (its ELBO,
    ``sample``, ``likelihood``) is unchanged by it, and ``purify`` returns the refined image. The latent code
    alone cannot carry a 28x28 image's detail (a plain VAE's reconstructions sit near 20 dB PSNR); the head
    keeps the detail the damage left and takes the rest from the decoder."""

    config_class = DVAEConfig

    def __init__(self, config: DVAEConfig, **networks) -> None:
        super().__init__(config, **networks)
        self._classifier: list = []  # loaded on first use; a list so it is no submodule (not saved, not averaged)
        self.refine_log_scale: nn.Parameter | None = None
        if config.refine:
            self.refiner = RefineNet(channels=config.channels, width=config.refine_width, activation=config.activation)
            if config.likelihood == "gaussian":
                self.refine_log_scale = nn.Parameter(torch.full((config.channels,), -1.0))

    def refined(self, inputs: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        if not self.config.refine:
            return decoded
        return decoded + self.refiner(inputs, self.mean_image(decoded).detach()).to(decoded.dtype)

    def restoration_loss(self, inputs: torch.Tensor, decoded: torch.Tensor, images: torch.Tensor):
        if not self.config.refine:
            return None
        return -self.log_likelihood(self.refined(inputs, decoded), images, self.refine_log_scale).mean()

    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        config = self.config
        draw = uniform if uniform is not None else (lambda shape: torch.rand(shape))
        seeds = (draw((len(images),)) * 2**31).long()
        share = draw((len(images),)).to(images.device)
        damaged = corrupt_batch(images, config.corruptions, config.severities, seeds=seeds)
        inputs = torch.where((share < config.clean_fraction)[:, None, None, None], images, damaged)
        attacked = (share >= config.clean_fraction) & (share < config.clean_fraction + config.adversarial_fraction)
        if attacked.any():
            inputs = inputs.clone()
            inputs[attacked] = self._adversarial(images[attacked], int(seeds[0]))
        return self.objective(inputs, images, labels, step=step, noise=noise)

    def _adversarial(self, images: torch.Tensor, seed: int) -> torch.Tensor:
        """PGD examples (in [-1, 1]) against the classifier's own predictions on ``images``."""
        if not self._classifier:
            path = self.config.classifier
            net, _ = load_feature_net(path, path if path.endswith(".safetensors") else None)
            if net.channels != self.config.channels:
                raise ConfigError(
                    f"classifier {path!r} takes {net.channels}-channel images, the data has {self.config.channels}"
                )
            self._classifier.append(ZeroOne(net.requires_grad_(False)).eval())
        classifier = self._classifier[0].to(images.device)
        clean = ((images.detach().float() + 1) / 2).clamp(0, 1)
        with torch.no_grad():
            targets = classifier(clean).argmax(1)
        config = self.config
        with torch.enable_grad(), torch.autocast(images.device.type, enabled=False):
            adversarial = pgd(
                classifier, clean, targets, eps=config.adversarial_eps, steps=config.adversarial_steps, seed=seed
            )
        return (adversarial * 2 - 1).to(images.dtype)
