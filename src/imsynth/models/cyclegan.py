"""CycleGAN (Zhu et al. 2017): A -> B and B -> A from unpaired domains, on the shared engine (see
imsynth.models.translation for the two-domain convention and the guard's collapse signals)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..runtime.tensors import to_model
from .base import LossOutput, Noise, register_model, require
from .translation import PatchGAN, TwoDomainModel, TwoDomainShape


@dataclass
class CycleGANConfig(TwoDomainShape):
    width: int = 64  # generator base width
    blocks: int = 6  # residual blocks at the bottleneck (the paper: 6 below 256x256, 9 above)
    d_width: int = 64
    d_layers: int = 3
    cycle_weight: float = 10.0
    identity_weight: float = 0.5  # x cycle_weight, as in the paper; needs equal channels in both domains
    pool_size: int = 50  # past fakes the discriminators see (0: only the current batch)
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    collapse_ratio: float = 0.02

    def __post_init__(self) -> None:
        require(self.width >= 1 and self.d_width >= 1, "width and d_width must be >= 1")
        require(0 <= self.blocks <= 16 and 1 <= self.d_layers <= 6, "blocks in 0..16, d_layers in 1..6")
        require(self.cycle_weight >= 0 and self.identity_weight >= 0, "cycle and identity weights must be >= 0")
        require(self.pool_size >= 0, "pool_size must be >= 0")


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            nn.InstanceNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Johnson et al. 2016): 7x7 in, two stride-2 convolutions, residual blocks, two
    transposed convolutions, 7x7 out; instance norm throughout."""

    downs = 2

    def __init__(self, cin: int, cout: int, width: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(cin, width, 7), nn.InstanceNorm2d(width), nn.ReLU()]
        w = width
        for _ in range(self.downs):
            layers += [nn.Conv2d(w, w * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(w * 2), nn.ReLU()]
            w *= 2
        layers += [ResidualBlock(w) for _ in range(blocks)]
        for _ in range(self.downs):
            layers += [
                nn.ConvTranspose2d(w, w // 2, 3, stride=2, padding=1, output_padding=1),
                nn.InstanceNorm2d(w // 2),
                nn.ReLU(),
            ]
            w //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, cout, 7), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        # sides a multiple of 4 and at least 8, so that every reflection pad is narrower than its input
        multiple = 2**self.downs
        pad_h = max(-height % multiple, 2 * multiple - height)
        pad_w = max(-width % multiple, 2 * multiple - width)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.body(x)[..., :height, :width]


def _least_squares(logits: torch.Tensor, target: float) -> torch.Tensor:
    return (logits.float() - target).square().mean()


@register_model(
    "cyclegan",
    data="pairs",
    tiny={"width": 4, "blocks": 1, "d_width": 4, "d_layers": 1, "pool_size": 4},
    description="CycleGAN: unpaired A <-> B translation, two ResNet generators, LSGAN, cycle + identity losses "
    "(data: unpaired:...)",
    train_defaults={"batch_size": 8, "ema_decay": 0.0, "warmup_steps": 0, "schedule": "constant"},
)
class CycleGAN(TwoDomainModel):
    config_class = CycleGANConfig
    directions = ("a2b", "b2a")
    generators, discriminators = ("generator_ab", "generator_ba"), ("discriminator_a", "discriminator_b")

    def __init__(self, config: CycleGANConfig) -> None:
        super().__init__(config)
        channels_a, channels_b = config.input_channels, config.output_channels
        require(channels_a >= 1 and channels_b >= 1, "cyclegan needs two domains (unpaired:... or pairs:...)")
        if config.identity_weight > 0 and channels_a != channels_b:
            raise ConfigError(
                f"cyclegan's identity loss needs domains with equal channels (got {channels_a} and {channels_b}); "
                "train with --set identity_weight=0"
            )
        self.generator_ab = ResnetGenerator(channels_a, channels_b, config.width, config.blocks)
        self.generator_ba = ResnetGenerator(channels_b, channels_a, config.width, config.blocks)
        self.discriminator_a = PatchGAN(channels_a, config.d_width, config.d_layers, nn.InstanceNorm2d)
        self.discriminator_b = PatchGAN(channels_b, config.d_width, config.d_layers, nn.InstanceNorm2d)
        self.pools: dict[str, torch.Tensor | None] = {"a": None, "b": None}

    def translate(self, inputs: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """Images of one domain (B, C, H, W) in [-1, 1] of any size -> the other domain's."""
        self.check_inputs(inputs, direction)
        return (self.generator_ab if direction == "a2b" else self.generator_ba)(inputs)

    # -- training -----------------------------------------------------------------------------------
    def training_state(self) -> dict[str, torch.Tensor]:
        return {f"pool_{key}": pool.detach().cpu() for key, pool in self.pools.items() if pool is not None}

    def load_training_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.pools = {key: tensors.get(f"pool_{key}") for key in ("a", "b")}

    def _pooled(self, key: str, fakes: torch.Tensor, context) -> torch.Tensor:
        """Zhu et al.'s image pool: until it holds ``pool_size`` fakes each fake goes in and is shown; then each
        fake, with probability 1/2, swaps places with a random stored one, which is shown instead. The coins come
        from the engine's (seed, step)-keyed noise, so a resumed run draws the same ones."""
        size = self.config.pool_size
        fakes = fakes.detach().float()
        if size == 0:
            return fakes
        pool = self.pools[key]
        coins, picks = context.uniform((len(fakes),)).cpu(), context.uniform((len(fakes),)).cpu()
        shown = fakes.clone()
        for index in range(len(fakes)):
            stored = 0 if pool is None else len(pool)
            if stored < size:
                pool = fakes[index : index + 1] if pool is None else torch.cat([pool, fakes[index : index + 1]])
            elif coins[index] < 0.5:
                slot = min(int(picks[index] * size), size - 1)
                shown[index] = pool[slot]
                pool = pool.clone()
                pool[slot] = fakes[index]
        self.pools[key] = pool
        return shown

    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        """The cycle reconstruction error, both ways (what evaluation reads; training runs ``train_step``)."""
        real_a, real_b = self.split(images)
        cycle_a = (self.generator_ba(self.generator_ab(real_a)) - real_a).abs().mean()
        cycle_b = (self.generator_ab(self.generator_ba(real_b)) - real_b).abs().mean()
        cycle = cycle_a.float() + cycle_b.float()
        return LossOutput(cycle, {"cycle_a": cycle_a.detach(), "cycle_b": cycle_b.detach()})

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        config = self.config
        real_a, real_b = self.split(images)
        discriminators = (self.discriminator_a, self.discriminator_b)
        for module in discriminators:
            module.requires_grad_(False)  # the generator step needs no discriminator gradients
        with context.autocast():
            fake_b, fake_a = self.generator_ab(real_a), self.generator_ba(real_b)
            adversarial = _least_squares(self.discriminator_b(fake_b), 1.0) + _least_squares(
                self.discriminator_a(fake_a), 1.0
            )
            cycle_a = (self.generator_ba(fake_b).float() - real_a.float()).abs().mean()
            cycle_b = (self.generator_ab(fake_a).float() - real_b.float()).abs().mean()
            g_loss = adversarial + config.cycle_weight * (cycle_a + cycle_b)
            identity = torch.zeros(())
            if config.identity_weight > 0:
                identity = (self.generator_ab(real_b).float() - real_b.float()).abs().mean() + (
                    self.generator_ba(real_a).float() - real_a.float()
                ).abs().mean()
                g_loss = g_loss + config.identity_weight * config.cycle_weight * identity
        context.backward_step("generator", g_loss)
        for module in discriminators:
            module.requires_grad_(True)
        shown_a, shown_b = self._pooled("a", fake_a, context), self._pooled("b", fake_b, context)
        with context.autocast():
            d_a = _least_squares(self.discriminator_a(real_a), 1.0) + _least_squares(
                self.discriminator_a(shown_a.to(real_a.dtype)), 0.0
            )
            d_b = _least_squares(self.discriminator_b(real_b), 1.0) + _least_squares(
                self.discriminator_b(shown_b.to(real_b.dtype)), 0.0
            )
            d_loss = 0.5 * (d_a + d_b)
        context.backward_step("discriminator", d_loss)
        logged = {
            "loss": g_loss.detach(),
            "g_adv": adversarial.detach(),
            "cycle_a": cycle_a.detach(),
            "cycle_b": cycle_b.detach(),
            "identity": identity.detach(),
            "d_loss": d_loss.detach(),
        }
        for key, outputs, targets, inputs in (("b", fake_b, real_b, real_a), ("a", fake_a, real_a, real_b)):
            detached = outputs.detach().float()
            if len(detached) > 1:
                logged[f"output_spread_{key}"] = detached.std(dim=0).mean()
                logged[f"target_spread_{key}"] = targets.float().std(dim=0).mean()
            if inputs.shape[1] == detached.shape[1]:
                logged[f"output_vs_input_{key}"] = (detached - inputs.float()).abs().mean()
        return logged

    def health(self, logged: dict) -> str | None:
        for key, direction in (("b", "a2b"), ("a", "b2a")):
            target = float(logged.get(f"target_spread_{key}", 0.0))
            if target > 0.05 and float(logged.get(f"output_spread_{key}", 1.0)) < self.config.collapse_ratio * target:
                return f"collapse: the {direction} translations are the same image for every input"
            copied = logged.get(f"output_vs_input_{key}")
            if copied is not None and float(copied) < 1e-3 and float(logged.get("g_adv", 0.0)) > 0.1:
                return f"collapse: the {direction} translations equal their inputs"
        return None

    # -- using the model ----------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, dataset, count: int) -> tuple[torch.Tensor, int | None]:
        """Rows of (input, translation, cycle back): the first test A images, then the first test B images."""
        device = next(self.parameters()).device
        half = max(1, count // 6)
        real_a, real_b = self.split(to_model(dataset.test_images[:half]).to(device))
        channels = max(real_a.shape[1], real_b.shape[1])

        def shown(images):
            return (
                images.float().mean(dim=1, keepdim=True).expand(-1, channels, -1, -1)
                if images.shape[1] != channels
                else images.float()
            )

        rows = []
        for inputs, forward, back in ((real_a, "a2b", "b2a"), (real_b, "b2a", "a2b")):
            outputs = self.translate(inputs, forward)
            rows.append(torch.stack([shown(inputs), shown(outputs), shown(self.translate(outputs, back))], dim=1))
        return torch.cat(rows).flatten(0, 1).cpu(), 3
