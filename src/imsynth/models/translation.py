"""Image-to-image translation on the shared engine: pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017).

A two-domain dataset (imsynth.data.pairs) stacks domain A's channels, then domain B's; the model splits them
(``channels_a``). pix2pix learns A -> B from pairs: a U-Net generator (skip connections at every level) and a
PatchGAN discriminator that judges (A, B) pairs patch by patch, trained with ``gan_weight`` x the
non-saturating GAN loss + ``l1_weight`` x L1 (the paper's 1 and 100; ours 0.3 and 100, from a study at 28x28).
``gan_weight=0`` is the paper's "L1 alone" ablation, the baseline the benchmark compares against.

CycleGAN learns A -> B and B -> A from unpaired domains (an ``unpaired:`` dataset's pairing carries no meaning):
two ResNet generators, two PatchGAN discriminators with instance norm, the least-squares GAN loss, the cycle loss
(A -> B -> A and B -> A -> B back to their inputs, L1) and the identity loss (a B image through A -> B unchanged,
which keeps colours from inverting: junyanz/pytorch-CycleGAN-and-pix2pix#91); the discriminators see a pool of the
last 50 fakes, which lives in the resume checkpoint (``training_state``) and not in ``model.safetensors``.

The guard's collapse signals (``health``): outputs identical across inputs (their spread across the batch under
2% of the targets'), and outputs equal to the inputs where the domains have equal channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..runtime.tensors import pad_to_multiple, to_model
from .base import DataShape, GenerativeModel, LossOutput, Noise, register_model, require


@dataclass
class TwoDomainShape(DataShape):
    """The data fields of a translation model: ``channels`` of both domains stacked, ``channels_a`` of them A's."""

    channels_a: int = 0  # domain A's (the input's) channels; the rest of ``channels`` is B's; 0: half

    @property
    def input_channels(self) -> int:
        return self.channels_a or self.channels // 2

    @property
    def output_channels(self) -> int:
        return self.channels - self.input_channels


class TwoDomainModel(GenerativeModel):
    """What pix2pix and CycleGAN share: the channel split of a two-domain batch, the checks of ``translate``'s
    inputs, the generator/discriminator optimiser groups (Adam betas 0.5, 0.999 as in both papers; EMA over the
    generators), and no sampling. A subclass names its modules in ``generators`` and ``discriminators``."""

    capabilities = frozenset({"sample", "image", "translator"})

    directions: tuple[str, ...] = ("a2b",)
    generators: tuple[str, ...] = ()
    discriminators: tuple[str, ...] = ()

    def split(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images[:, : self.config.input_channels], images[:, self.config.input_channels :]

    def check_inputs(self, inputs: torch.Tensor, direction: str) -> None:
        if direction not in self.directions:
            raise InputError(f"model {self.registered_name!r} translates {' and '.join(self.directions)} only")
        channels = self.config.input_channels if direction == "a2b" else self.config.output_channels
        if inputs.shape[1] != channels:
            raise InputError(
                f"model {self.registered_name!r} translates {channels}-channel images {direction}; got {inputs.shape[1]}"
            )

    def _parameters_of(self, names: tuple[str, ...]) -> list[nn.Parameter]:
        return [p for name in names for p in getattr(self, name).parameters()]

    def optimizer_groups(self) -> dict:
        config = self.config
        return {
            "generator": {"params": self._parameters_of(self.generators), "lr": config.g_lr, "betas": (0.5, 0.999)},
            "discriminator": {
                "params": self._parameters_of(self.discriminators),
                "lr": config.d_lr,
                "betas": (0.5, 0.999),
            },
        }

    def ema_parameter_names(self) -> set[str]:
        return {
            f"{module}.{name}" for module in self.generators for name, _ in getattr(self, module).named_parameters()
        }

    def sample(self, count: int, *, labels=None, generator=None) -> torch.Tensor:
        raise InputError(
            f"model {self.registered_name!r} translates images rather than sampling them: use imsynth translate"
        )


D_NORMS = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "none": nn.Identity}


@dataclass
class TranslationConfig(TwoDomainShape):
    width: int = 64  # U-Net base width
    levels: int = 0  # U-Net down-sampling levels (0: down to 4x4 at most, at most 6)
    d_width: int = 64
    # PatchGAN stride-2 layers; 0: the fewest whose patch covers a quarter of the image side, as the paper's 70x70
    # patches do at 256x256 (measured at 28x28: a 38 px patch, the whole item, gave 1.52x and 1.33x the FID of an
    # 8 px one under the two feature networks; benchmarks/translation.py study)
    d_layers: int = 0
    d_norm: Literal["batch", "instance", "none"] = "batch"  # the PatchGAN's normalisation (the paper's: batch)
    l1_weight: float = 100.0
    # 0: a U-Net trained with L1 alone. The paper's 1 scored 1.07x / 1.15x the FID of 0.3 with an 8 px PatchGAN at
    # 28x28 (12,000 steps; docs/benchmarks.md, pix2pix study); at 256x256 with its 70 px patches set it back to 1
    gan_weight: float = 0.3
    # pix2pixHD's feature matching (Wang et al. 2018, their 10): L1 between the discriminator's activations on the
    # real pair and on the translated one, averaged over its layers; needs gan_weight > 0
    fm_weight: float = 0.0
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    collapse_ratio: float = 0.02

    def __post_init__(self) -> None:
        require(self.width >= 1 and self.d_width >= 1, "width and d_width must be >= 1")
        require(0 <= self.levels <= 8 and 0 <= self.d_layers <= 6, "levels in 0..8, d_layers in 0..6")
        require(self.d_norm in D_NORMS, f"d_norm must be one of {', '.join(D_NORMS)}, got {self.d_norm!r}")
        require(self.l1_weight >= 0 and self.gan_weight >= 0, "l1_weight and gan_weight must be >= 0")
        require(self.fm_weight >= 0, f"fm_weight must be >= 0, got {self.fm_weight}")
        require(self.fm_weight == 0 or self.gan_weight > 0, "fm_weight needs the discriminator: gan_weight > 0")
        require(self.l1_weight > 0 or self.gan_weight > 0, "one of l1_weight and gan_weight must be > 0")


class UNet(nn.Module):
    """pix2pix's U-Net: stride-2 4x4 convolutions down, transposed ones up, each level's features concatenated
    onto the way up; batch norm except at the outermost layers; dropout on the three innermost up layers."""

    def __init__(self, cin: int, cout: int, width: int, levels: int) -> None:
        super().__init__()
        widths = [min(width * 2**level, width * 8) for level in range(levels)]
        self.down = nn.ModuleList()
        previous = cin
        for level, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(previous, w, 4, stride=2, padding=1)]
            if 0 < level < levels - 1:
                layers.append(nn.BatchNorm2d(w))
            self.down.append(nn.Sequential(*layers))
            previous = w
        self.up = nn.ModuleList()
        for level in reversed(range(levels)):
            inner = widths[level] * (1 if level == levels - 1 else 2)
            out = cout if level == 0 else widths[level - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(inner, out, 4, stride=2, padding=1)]
            if level:
                layers.append(nn.BatchNorm2d(out))
                if level >= levels - 3 and levels > 3:
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for index, layer in enumerate(self.down):
            x = layer(x if index == 0 else F.leaky_relu(x, 0.2))
            skips.append(x)
        x = skips.pop()
        for index, layer in enumerate(self.up):
            if index:
                x = torch.cat([x, skips.pop()], dim=1)
            x = layer(x)
        return torch.tanh(x)


def receptive_field(layers: int) -> int:
    """The side in pixels that one PatchGAN logit sees: ``layers`` stride-2 4x4 convolutions, then a 3x3 one."""
    field = 3
    for _ in range(layers):
        field = (field - 1) * 2 + 4
    return field


def patch_layers(side: int, most: int = 6) -> int:
    """The fewest PatchGAN layers whose receptive field covers a quarter of ``side`` (8 px at 28, 78 at 256)."""
    layers = 1
    while layers < most and receptive_field(layers) < side / 4:
        layers += 1
    return layers


class PatchGAN(nn.Module):
    """Logits per overlapping patch of an image (CycleGAN, instance norm) or an (A, B) pair (pix2pix, batch norm)."""

    def __init__(self, cin: int, width: int, layers: int, norm: type[nn.Module] = nn.BatchNorm2d) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        previous = cin
        for index in range(layers):
            w = min(width * 2**index, width * 8)
            blocks += [nn.Conv2d(previous, w, 4, stride=2, padding=1)]
            if index:
                blocks.append(norm(w))
            blocks.append(nn.LeakyReLU(0.2))
            previous = w
        blocks.append(nn.Conv2d(previous, 1, 3, padding=1))
        self.body = nn.Sequential(*blocks)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.body(pair)

    def features(self, pair: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's activations (after each LeakyReLU), for pix2pixHD's feature-matching loss."""
        out, x = [], pair
        for module in self.body[:-1]:
            x = module(x)
            if isinstance(module, nn.LeakyReLU):
                out.append(x)
        return out


@register_model(
    "pix2pix",
    data="pairs",
    tiny={"width": 4, "d_width": 4, "d_layers": 1},
    description="pix2pix: paired A -> B translation, U-Net + PatchGAN, L1 + GAN (data: pairs:...)",
    train_defaults={"batch_size": 16, "ema_decay": 0.0, "warmup_steps": 0, "schedule": "constant"},
)
class Pix2Pix(TwoDomainModel):
    config_class = TranslationConfig
    generators, discriminators = ("generator",), ("discriminator",)

    def __init__(self, config: TranslationConfig) -> None:
        super().__init__(config)
        require(config.input_channels >= 1 and config.output_channels >= 1, "pix2pix needs two domains (pairs:...)")
        side = config.image_size
        levels = config.levels or max(1, min(6, (max(side, 2) - 1).bit_length() - 2))
        self.levels = levels
        self.generator = UNet(config.input_channels, config.output_channels, config.width, levels)
        self.d_layers = config.d_layers or patch_layers(side)
        self.discriminator = PatchGAN(config.channels, config.d_width, self.d_layers, D_NORMS[config.d_norm])

    # -- data ---------------------------------------------------------------------------------------

    def translate(self, inputs: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        """Domain-A images (B, channels_a, H, W) in [-1, 1] of any size -> domain-B images."""
        self.check_inputs(inputs, direction)
        height, width = inputs.shape[-2:]
        return self.generator(pad_to_multiple(inputs, 2**self.levels))[..., :height, :width]

    # -- training -----------------------------------------------------------------------------------
    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise: Noise | None = None,
        uniform: Noise | None = None,
    ) -> LossOutput:
        """The L1 error of the translation (what evaluation reads; training runs ``train_step``)."""
        inputs, targets = self.split(images)
        l1 = (self.translate(inputs).float() - targets.float()).abs().mean()
        return LossOutput(l1, {"l1": l1.detach()})

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        config = self.config
        inputs, targets = self.split(images)
        logged = {}
        with context.autocast():
            fake = self.translate(inputs)
        if config.gan_weight > 0:
            with context.autocast():
                real_logits = self.discriminator(torch.cat([inputs, targets], dim=1)).float()
                fake_logits = self.discriminator(torch.cat([inputs, fake.detach()], dim=1)).float()
                d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
            context.backward_step("discriminator", d_loss)
            logged["d_loss"] = d_loss.detach()
        with context.autocast():
            l1 = (fake.float() - targets.float()).abs().mean()
            g_loss = config.l1_weight * l1
            if config.gan_weight > 0:
                adversarial = F.softplus(-self.discriminator(torch.cat([inputs, fake], dim=1)).float()).mean()
                g_loss = g_loss + config.gan_weight * adversarial
                logged["g_adv"] = adversarial.detach()
            if config.fm_weight > 0:
                matching = self._feature_matching(inputs, targets, fake)
                g_loss = g_loss + config.fm_weight * matching
                logged["g_fm"] = matching.detach()
        context.backward_step("generator", g_loss)
        detached = fake.detach().float()
        logged.update(
            loss=g_loss.detach(),
            l1=l1.detach(),
            output_spread=detached.std(dim=0).mean() if len(detached) > 1 else torch.tensor(0.0),
            target_spread=targets.float().std(dim=0).mean() if len(targets) > 1 else torch.tensor(0.0),
        )
        if inputs.shape[1] == targets.shape[1]:
            logged["output_vs_input"] = (detached - inputs.float()).abs().mean()
        return logged

    def _feature_matching(self, inputs, targets, fake) -> torch.Tensor:
        with torch.no_grad():
            real = self.discriminator.features(torch.cat([inputs, targets], dim=1))
        made = self.discriminator.features(torch.cat([inputs, fake], dim=1))
        return sum((a.float() - b.float()).abs().mean() for a, b in zip(made, real)) / len(made)

    def health(self, logged: dict) -> str | None:
        target = float(logged.get("target_spread", 0.0))
        if target > 0.05 and float(logged.get("output_spread", 1.0)) < self.config.collapse_ratio * target:
            return "collapse: the translations are the same image for every input"
        copied = logged.get("output_vs_input")
        if copied is not None and float(copied) < 1e-3 and float(logged.get("l1", 0.0)) > 0.05:
            return "collapse: the translations equal their inputs"
        return None

    # -- using the model ----------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self, dataset, count: int) -> tuple[torch.Tensor, int | None]:
        """Rows of (input, translation, target) for the first test pairs, shown in the output domain's channels."""
        device = next(self.parameters()).device
        pairs = to_model(dataset.test_images[: max(1, count // 3)]).to(device)
        inputs, targets = self.split(pairs)
        outputs = self.translate(inputs).float()
        shown = inputs.float()
        if shown.shape[1] != outputs.shape[1]:
            shown = shown.mean(dim=1, keepdim=True).expand(-1, outputs.shape[1], -1, -1)
        rows = torch.stack([shown, outputs, targets.float()], dim=1).flatten(0, 1)
        return rows.cpu(), 3
