"""A patch judge on a likelihood model's drawings, as Esser et al. 2021 (VQGAN) and Rombach et al. 2022 train their
autoencoders: the model's objective plus a PatchGAN's hinge loss on what it decodes, the adversarial term weighted
every step so that its gradient at the decoder's last layer is ``adversarial_weight`` times the likelihood's.

A likelihood alone makes a decoder draw the mean of what a code could be, a blur; the judge pulls it toward
something that looks like the data while the likelihood keeps it on the right image. Shared by ``vae-gan`` (images)
and ``dsvae`` (frames), so the update is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import require
from .gan import GAN_LOSSES, r1_penalty
from .translation import PatchGAN


@dataclass
class JudgeSettings:
    """The judge's settings, as fields of a family's config."""

    adversarial_weight: float = 0.5  # the adversarial gradient at the decoder's last layer, per the likelihood's
    adversarial_start: int = 1000  # steps of the plain objective before the discriminator joins
    d_width: int = 32
    d_layers: int = 2  # stride-2 layers: at 28 px a logit then sees 18 px
    d_lr: float = 2e-4
    # lazy R1 on real images (as the GAN family's): a smoother judge. Tried against the autoencoder's run-to-run
    # spread at 0.1 and 0.001 (one run each): neither moved the floor outside it (docs/benchmarks.md), so it stays off
    r1_weight: float = 0.0
    r1_every: int = 16

    def check_judge(self) -> None:
        require(self.adversarial_weight >= 0, f"adversarial_weight must be >= 0, got {self.adversarial_weight}")
        require(self.adversarial_start >= 0, f"adversarial_start must be >= 0, got {self.adversarial_start}")
        require(self.d_width >= 1 and self.d_layers >= 1, "d_width and d_layers must be >= 1")
        require(self.d_lr > 0, f"d_lr must be > 0, got {self.d_lr}")
        require(self.r1_weight >= 0 and self.r1_every >= 1, "r1_weight must be >= 0 and r1_every >= 1")


class PatchJudged:
    """Mixed into a model with a ``JudgeSettings`` config: builds the judge (only when its weight is above 0, so runs
    trained without one load as they were), gives it its own optimiser, and makes one judged step."""

    adversarial_loss = GAN_LOSSES.get("hinge")  # the GAN table's row, as VQGAN's and SNGAN's
    judge_prefix = "discriminator."

    @property
    def has_judge(self) -> bool:
        return self.config.adversarial_weight > 0

    def build_judge(self, channels: int) -> None:
        if self.has_judge:
            self.discriminator = PatchGAN(channels, self.config.d_width, self.config.d_layers, torch.nn.BatchNorm2d)

    def optimizer_groups(self) -> dict:
        if not self.has_judge:
            return super().optimizer_groups()
        own = [p for name, p in self.named_parameters() if not name.startswith(self.judge_prefix)]
        judge = {"params": list(self.discriminator.parameters()), "lr": self.config.d_lr, "betas": (0.5, 0.9)}
        return {"model": {"params": own}, "discriminator": judge}

    def ema_parameter_names(self) -> set[str] | None:
        if not self.has_judge:
            return super().ema_parameter_names()
        return {name for name, _ in self.named_parameters() if not name.startswith(self.judge_prefix)}

    def adaptive_weight(
        self, likelihood_loss: torch.Tensor, adversarial_loss: torch.Tensor, last: torch.Tensor
    ) -> torch.Tensor:
        """VQGAN's: the ratio of the two losses' gradient norms at the decoder's last layer, times the config's."""
        (likelihood_grad,) = torch.autograd.grad(likelihood_loss, last, retain_graph=True)
        (adversarial_grad,) = torch.autograd.grad(adversarial_loss, last, retain_graph=True)
        ratio = likelihood_grad.float().norm() / (adversarial_grad.float().norm() + 1e-4)
        return self.config.adversarial_weight * ratio.clamp(max=1e4).detach()

    def judged_step(
        self, context, loss: torch.Tensor, logged: dict, real: torch.Tensor, drawn: torch.Tensor, last: torch.Tensor
    ) -> dict:
        """The model's update on ``loss`` plus, once the judge has started, its adversarial term on ``drawn`` (in
        [-1, 1]); then the judge's own update on ``real`` against ``drawn``. Returns ``logged`` with the terms."""
        config = self.config
        judged = self.has_judge and config.adversarial_weight > 0 and context.step >= config.adversarial_start
        total = loss
        if judged:
            self.discriminator.requires_grad_(False)  # the model's update: the judge takes no gradient
            with context.autocast():
                g_loss = self.adversarial_loss.generator(self.discriminator(drawn).float())
            weight = self.adaptive_weight(loss, g_loss, last)
            total = total + weight * g_loss
            logged.update(g_loss=g_loss.detach(), adversarial_weight=weight)
            self.discriminator.requires_grad_(True)
        context.backward_step("model", total)
        if judged:
            lazy_r1 = config.r1_weight > 0 and context.step % config.r1_every == 0
            with context.autocast():
                if lazy_r1:
                    r1, real_logits = r1_penalty(self.discriminator, real)
                else:
                    real_logits = self.discriminator(real).float()
                fake = self.discriminator(drawn.detach()).float()
                d_loss = self.adversarial_loss.discriminator(real_logits, fake)
            d_total = d_loss
            if lazy_r1:  # StyleGAN2's lazy form: every r1_every steps, scaled by it
                d_total = d_loss + 0.5 * config.r1_weight * config.r1_every * r1
                logged["r1"] = r1.detach()
            context.backward_step("discriminator", d_total)
            logged.update(d_loss=d_loss.detach(), d_real=real_logits.detach().mean(), d_fake=fake.detach().mean())
        return logged
