"""Denoising diffusion and flow matching (training; every sampler of ``samplers.py``) on the shared engine.

Training draws t uniformly from 0..T-1 and noise eps, forms x_t = alpha_t x_0 + sigma_t eps on the run's schedule
(variance-preserving linear or cosine, or flow's straight path) and regresses the UNet's output on the target:
eps (``prediction="eps"``, Ho et al. 2020), v = alpha_t eps - sigma_t x_0 (``"v"``, Salimans & Ho 2022) or the
velocity eps - x_0 (``"flow"``, flow matching: Lipman et al. 2023, Liu et al. 2023). Each is turned into estimates
of x_0 and eps at sampling time, so every sampler works with every objective and schedule.

Conditional runs replace the label by a "no class" token with probability ``label_dropout`` during
training, so one network predicts both; classifier-free guidance (Ho & Salimans 2022) then samples with
out = uncond + w (cond - uncond), w = ``guidance`` (1 = plain conditional).

Inpainting follows RePaint (Lugmayr et al. 2022): at every reverse step the known region is replaced by
the original image noised to that step, and the schedule jumps back up ``jump_length`` steps
``resamplings - 1`` times per segment (re-noising with q(x_t | x_t_prev)) so the hole harmonises with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch.utils.checkpoint import checkpoint

from ..errors import InputError
from ..runtime.device import autocast_context, resolve_precision
from .base import DataShape, GenerativeModel, LossOutput, register_model, require
from .objectives import EDM_P_MEAN, EDM_P_STD, estimates, network_input, timesteps_of_sigmas, training_target
from .samplers import SAMPLERS, NoiseSchedule, Sampler, make_sampler
from .unet import UNet


@dataclass
class DiffusionConfig(DataShape):
    search_space: ClassVar[dict] = {
        "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "width": {"choices": [16, 32, 48]},
        "train.batch_size": {"choices": [32, 64, 128]},
        "dropout": {"low": 0.0, "high": 0.2},
        # the objective is searched too: every pairing of schedule and target trains, and every sampler runs it
        "schedule": {"choices": ["cosine", "flow"]},
        "prediction": {"choices": ["v", "flow", "edm"]},
        "noise_levels": {"choices": ["uniform", "edm"]},
    }
    width: int = 32
    channel_multipliers: tuple[int, ...] = ()  # () = by image size (unet.default_multipliers)
    blocks_per_level: int = 1
    attention_sides: tuple[int, ...] = (7, 8)
    heads: int = 4
    dropout: float = 0.1
    timesteps: int = 1000
    # v-prediction on the cosine schedule: its x_0 estimate stays bounded at high noise, where eps-prediction
    # divides the network's error by sqrt(abar_t) ~ 0.006 (linear schedule, t = T-1); with eps/linear, DDIM-50
    # samples of a 2,000-step Fashion-MNIST run were about one in three saturated noise (seen here)
    # flow + flow: flow matching / rectified flow (the straight path x_t = (1 - s) x_0 + s eps, velocity target)
    schedule: Literal["linear", "cosine", "flow"] = "cosine"
    # edm: Karras et al. 2022's preconditioning (sigma_data 0.5: input scaled by c_in, the network's output F
    # mixed with the input by c_skip and c_out) with its loss weighting (lambda c_out^2 = 1: plain MSE on F)
    prediction: Literal["eps", "v", "flow", "edm"] = "v"
    # the noise levels trained on: uniform over the timesteps, or EDM's log-normal over sigma (ln sigma ~
    # N(-1.2, 1.2^2)), each draw taken to the timestep of the nearest sigma
    noise_levels: Literal["uniform", "edm"] = "uniform"
    label_dropout: float = 0.1  # conditional runs: share of labels replaced by "no class" (for guidance)
    # sampling defaults (imsynth sample --sampler/--steps/--eta/--guidance override them)
    # UniPC-10 matched DDIM-50's FID under both networks at 4.6x the speed (docs/benchmarks.md, few-step samplers)
    sampler: str = field(default="unipc", metadata={"choices": SAMPLERS})
    sample_steps: int = 10
    sample_spacing: Literal["both", "trailing"] = "both"  # ddim's grid; a distilled student's is trailing
    eta: float = 0.0
    guidance: float = 1.0
    # clamp the x_0 estimate to [-1, 1] at every step: off by default, as it measured worse for every sampler
    # (docs/benchmarks.md, "Few-step samplers"); runs trained before keep it on in their config
    clip_denoised: bool = False
    sample_precision: Literal["auto", "fp32", "bf16"] = "auto"
    # advice: after this many steps, a loss no lower than at the start is reported (0: never)
    stall_after: int = 1000

    def __post_init__(self) -> None:
        require(self.width >= 8 and self.width % 4 == 0, "width must be a multiple of 4 and >= 8")
        require(self.blocks_per_level >= 1 and self.heads >= 1, "blocks_per_level and heads must be >= 1")
        require(self.width % self.heads == 0, f"width {self.width} must be divisible by heads {self.heads}")
        require(0 <= self.dropout < 1 and 0 <= self.label_dropout < 1, "dropout and label_dropout must be in [0, 1)")
        require(self.timesteps >= 2, "timesteps must be >= 2")
        require(self.sampler in SAMPLERS, f"unknown sampler {self.sampler!r}; valid: {', '.join(SAMPLERS.names())}")
        require(1 <= self.sample_steps <= self.timesteps, "sample_steps must be between 1 and timesteps")
        require(0 <= self.eta <= 1, "eta must be in [0, 1]")
        require(all(m >= 1 for m in self.channel_multipliers), "channel_multipliers must be >= 1")
        require(self.stall_after >= 0, "stall_after must be >= 0")


# channels_last off: with GroupNorm it trained 1.3x slower than NCHW here (146 vs 191 img/s, bf16, 28 px)
DIFFUSION_TRAINING = dict(
    lr=4e-4,
    warmup_steps=200,
    batch_size=128,
    grad_clip=1.0,
    ema_decay=0.999,
    channels_last=False,
    sample_every=1000,
    checkpoint_every=1000,
)


# purification's reverse steps over the whole schedule (scaled by t*/T): ancestral ddpm steps, which the fast ODE
# samplers' step counts (the run's sample_steps) do not describe
PURIFICATION_STEPS = 50

DIFFUSION_TINY = {"width": 8, "timesteps": 100, "sample_steps": 5, "sample_precision": "fp32"}


class DiffusionBase(GenerativeModel):
    """Training and sampling of a diffusion model on tensors of any shape (images here, a latent in
    ``latent_diffusion``); ``Diffusion`` adds what only works in pixels (inpainting, purification)."""

    config_class = DiffusionConfig
    capabilities = frozenset({"sample", "image", "latent", "iterative-sampler"})
    sample_batch_size = 100  # images per sampling batch (a progress update each)
    bounded = True  # what the reverse process makes lies in [-1, 1] (pixels; a latent does not)

    def __init__(self, config: DiffusionConfig, *, network: torch.nn.Module | None = None) -> None:
        super().__init__(config)
        classes = config.num_classes if config.conditional else 0
        self.network = network or unet_for(config, config.channels, num_classes=classes)
        self.schedule = NoiseSchedule(config.schedule, config.timesteps)
        self._logged_losses: list[float] = []  # this session's logged losses, for the stalled-loss advice

    @property
    def latent_dim(self) -> int:
        """The initial noise x_T is the latent: DDIM with eta = 0 maps it to an image deterministically."""
        config = self.config
        return config.channels * config.image_size * config.image_size

    # -- training ---------------------------------------------------------------------------------
    def diffused(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """What the diffusion runs on for ``images`` (the images themselves; a latent family encodes them): what
        training and distillation noise."""
        return images

    def loss(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        step: int = 0,
        noise=None,
        uniform: Callable | None = None,
    ) -> LossOutput:
        config = self.config
        images = self.diffused(images, labels)
        uniform = uniform or (lambda shape: torch.rand(shape))
        noise = noise or (lambda shape: torch.randn(shape))
        batch = len(images)
        if config.noise_levels == "edm":
            t = timesteps_of_sigmas(self.schedule, (EDM_P_MEAN + EDM_P_STD * noise((batch,))).exp()).to(images.device)
        else:
            t = (uniform((batch,)) * config.timesteps).long().clamp(max=config.timesteps - 1).to(images.device)
        eps = noise(tuple(images.shape)).to(images)
        if self.conditional:
            dropped = uniform((batch,)).to(images.device) < config.label_dropout
            labels = torch.where(dropped, torch.full_like(labels, config.num_classes), labels)
        else:
            labels = None
        noisy = self.schedule.add_noise(images, eps, t).to(images.dtype)
        output = self.network(network_input(config.prediction, self.schedule, noisy, t), t, labels).float()
        target = training_target(config.prediction, self.schedule, images, eps, t)
        per_image = (output - target).pow(2).flatten(1).mean(dim=1)
        late = t >= config.timesteps // 2
        parts = {
            "mse_early_t": per_image[~late].mean().detach() if (~late).any() else per_image.new_tensor(0.0),
            "mse_late_t": per_image[late].mean().detach() if late.any() else per_image.new_tensor(0.0),
        }
        return LossOutput(per_image.mean(), parts)

    def advice(self, logged: dict, step: int) -> str | None:
        """A loss that has not fallen: after ``stall_after`` steps, the mean of the last five logged losses is
        still at least 90% of the first three's (a learning rate far too high or too low, or broken data)."""
        if "loss" not in logged:
            return None
        self._logged_losses.append(float(logged["loss"]))
        start, recent = self._logged_losses[:3], self._logged_losses[-5:]
        if not self.config.stall_after or step < self.config.stall_after or len(self._logged_losses) < 8:
            return None
        before, now = sum(start) / len(start), sum(recent) / len(recent)
        if now >= 0.9 * before:
            return (
                f"loss stopped falling: {now:.4g} at step {step}, {before:.4g} at the start; check train.lr "
                "(and the data)"
            )
        return None

    # -- the reverse process ------------------------------------------------------------------------
    def sampler(self, name: str | None = None, steps: int | None = None, eta: float | None = None) -> Sampler:
        """A sampler for this run (defaults from the config); steps may not exceed the training timesteps."""
        return run_sampler_for(self.config, self.schedule, name, steps, eta)

    def guidance_scale(self, guidance: float | None) -> float:
        if guidance is None:
            return self.config.guidance if self.conditional else 1.0
        if not self.conditional:
            raise InputError(
                f"guidance needs a class-conditional run (ddpm-cond); model {self.registered_name!r} is unconditional"
            )
        if not math.isfinite(guidance) or guidance < 0:
            raise InputError(f"--guidance must be a finite number >= 0, got {guidance}")
        return guidance

    def _autocast(self, device: torch.device):
        return autocast_context(device, resolve_precision(self.config.sample_precision, device))

    def estimate(
        self, x_t: torch.Tensor, t: int, labels: torch.Tensor | None, guidance: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's estimates of (x_0, eps) at timestep ``t`` (guided when ``guidance`` != 1)."""
        config = self.config
        timesteps = torch.full((len(x_t),), t, dtype=torch.int64, device=x_t.device)
        guided = self.conditional and labels is not None and guidance != 1.0
        scaled = network_input(config.prediction, self.schedule, x_t, t)
        with self._autocast(x_t.device):
            if guided:
                no_class = torch.full_like(labels, config.num_classes)
                both = self.network(
                    torch.cat([scaled, scaled]), torch.cat([timesteps, timesteps]), torch.cat([labels, no_class])
                ).float()
                conditional, unconditional = both.chunk(2)
                output = unconditional + guidance * (conditional - unconditional)
            else:
                output = self.network(scaled, timesteps, labels).float()
        return estimates(config.prediction, self.schedule, x_t, t, output, clip=config.clip_denoised)

    def _noise_like(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator).to(x.device)

    @torch.no_grad()
    def run_sampler(
        self,
        x_t: torch.Tensor,
        sampler: Sampler,
        labels: torch.Tensor | None,
        *,
        guidance: float = 1.0,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Run ``sampler`` from x_T (B, C, H, W) to images in [-1, 1]."""
        return reverse(
            x_t, sampler, lambda x, t: self.estimate(x, t, labels, guidance), generator, progress, clamp=self.bounded
        )

    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one x_T: an image (C, H, W)."""
        return (self.config.channels, self.config.image_size, self.config.image_size)

    def _start(self, count: int, labels, initial_noise, generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x_T (from ``initial_noise`` (B, latent_dim) or (B, *shape), or fresh noise) and checked labels, on the
        model's device."""
        device = next(self.parameters()).device
        labels = self.check_labels(labels, count)
        shape = (count, *self.noise_shape())
        if initial_noise is None:
            initial_noise = torch.randn(shape, generator=generator)
        if initial_noise.numel() != math.prod(shape):
            raise InputError(
                f"initial noise has {initial_noise.numel()} values; {count} samples need "
                f"{count} x {'x'.join(str(side) for side in shape[1:])}"
            )
        return initial_noise.reshape(shape).to(device), None if labels is None else labels.to(device)

    @torch.no_grad()
    def sample(
        self,
        count: int,
        *,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | None = None,
        initial_noise: torch.Tensor | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """``count`` images (B, C, H, W) in [-1, 1]; sampler, steps, eta and guidance default to the config."""
        chosen = self.sampler(sampler, steps, eta)
        scale = self.guidance_scale(guidance)
        x_t, labels = self._start(count, labels, initial_noise, generator)
        return self.run_sampler(x_t, chosen, labels, guidance=scale, generator=generator, progress=progress)

    def decode_latents(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic DDIM (eta = 0) from initial noise (B, C*H*W): the latent space ``explore`` walks."""
        return self.sample(len(latents), labels=labels, sampler="ddim", eta=0.0, initial_noise=latents)


@register_model(
    "ddpm",
    tiny=DIFFUSION_TINY,
    description="DDPM: UNet with attention, v-prediction, cosine schedule; UniPC-10 sampling",
    train_defaults=DIFFUSION_TRAINING,
)
@register_model(
    "flow",
    tiny=DIFFUSION_TINY,
    description="flow matching / rectified flow: ddpm's UNet on the straight path x_t = (1-s) x_0 + s eps, velocity "
    "target; DPM-Solver++ 20 sampling",
    train_defaults=DIFFUSION_TRAINING,
    schedule="flow",
    prediction="flow",
    sampler="dpm++2m",
    sample_steps=20,
)
@register_model(
    "ddpm-cond",
    tiny=DIFFUSION_TINY,
    description="class-conditional DDPM with label dropout 0.1 for classifier-free guidance; DDIM-50 sampling",
    train_defaults=DIFFUSION_TRAINING,
    conditional=True,
    guidance=2.0,
    sampler="ddim",  # guided sampling with UniPC is not measured yet
    sample_steps=50,
)
class Diffusion(DiffusionBase):
    capabilities = frozenset({"sample", "image", "latent", "inpainter", "iterative-sampler", "purifier"})

    @torch.no_grad()
    def inpaint(
        self,
        images: torch.Tensor,
        hole: torch.Tensor,
        *,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int = 100,
        jump_length: int = 10,
        resamplings: int = 5,
        guidance: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """RePaint: fill ``hole`` (B, 1, H, W) bool, True = unknown) of ``images`` (B, C, H, W) in [-1, 1].

        Known pixels of the result equal the input exactly. Cost: about ``steps * resamplings`` network
        evaluations (see ``repaint_moves``)."""
        self.check_images(tuple(images.shape[1:]))
        if hole.shape[-2:] != images.shape[-2:]:
            raise InputError(f"mask is {tuple(hole.shape[-2:])}, the images {tuple(images.shape[-2:])}")
        ddpm = self.sampler("ddpm", steps)
        scale = self.guidance_scale(guidance)
        x_t, labels = self._start(len(images), labels, None, generator)
        known = images.to(x_t.device).float()
        hole = hole.to(x_t.device).expand_as(known)
        levels = [-1] + [t for t, _ in reversed(ddpm.timesteps)]  # level k -> timestep; level 0 is the clean image
        level = len(levels) - 1
        for move in repaint_moves(len(levels) - 1, jump_length, resamplings):
            if move < 0:  # down one level: a reverse step, then the known region from the original
                t, t_prev = levels[level], levels[level - 1]
                clean, noise = self.estimate(x_t, t, labels, scale)
                fresh = self._noise_like(x_t, generator) if t_prev >= 0 else None
                x_t = ddpm.step(x_t, t, t_prev, clean, noise, fresh)
                known_now = (
                    known
                    if t_prev < 0
                    else self.schedule.add_noise(
                        known, self._noise_like(known, generator), torch.full((len(known),), t_prev)
                    )
                )
                x_t = torch.where(hole, x_t, known_now)
                level -= 1
                if progress is not None:
                    progress(1)
            else:  # up one level: re-noise with q(x_t | x_t_prev)
                x_t = self.schedule.renoise(x_t, levels[level], levels[level + 1], self._noise_like(x_t, generator))
                level += 1
        return torch.where(hole, x_t.clamp(-1, 1), known)

    def purification_start(self, strength: float) -> int:
        """t* for removing damage of standard deviation ``strength`` (0-1 scale): the timestep whose added noise
        (sqrt((1 - abar) / abar), on the model's [-1, 1] scale) is sqrt(2) times the damage, so Gaussian noise of
        that level is covered and other damage is drowned by at least as much fresh noise (SDEdit's trade-off:
        higher t* removes more damage and more of the image's detail)."""
        if not math.isfinite(strength) or strength <= 0:
            raise InputError(f"purification strength must be a positive number, got {strength}")
        target = (2 * strength) ** 2 * 2
        ratio = self.schedule.sigmas() ** 2
        return int(min(torch.searchsorted(ratio, torch.tensor(target, dtype=ratio.dtype)).item(), len(ratio) - 1))

    def purify(
        self,
        images: torch.Tensor,
        *,
        strength: float | None = None,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        sampler: str = "ddpm",
    ) -> torch.Tensor:
        """Diffusion purification (SDEdit, Meng et al. 2022; DiffPure, Nie et al. 2022): noise ``images`` (B, C, H, W)
        in [-1, 1] to t* (``purification_start(strength)``, default strength 0.1) and run the reverse process to
        t = 0 in ``steps`` (default: ``PURIFICATION_STEPS`` scaled by t*/T, at least 5). Random (the fresh
        noise) unless ``generator`` is seeded. Differentiable when the caller enables gradients: the graph of the
        whole reverse chain is kept, so an attack gets the exact gradient (each network evaluation is checkpointed:
        the memory of one step's activations plus the chain's inputs, for a second forward pass in the backward)."""
        start = self.purification_start(0.1 if strength is None else strength)
        count = steps or max(5, round(PURIFICATION_STEPS * (start + 1) / self.config.timesteps))
        chosen = self.sampler(sampler, 1).starting_at(start, count)
        x, labels = self._start(len(images), labels, None, generator)
        scale = self.guidance_scale(None)
        clean = images.to(x.device).float()
        noised = self.schedule.add_noise(clean, self._noise_like(clean, generator), torch.full((len(clean),), start))
        if not torch.is_grad_enabled():
            return self.run_sampler(noised, chosen, labels, guidance=scale, generator=generator)

        def estimate(x_t: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
            return checkpoint(self.estimate, x_t, t, labels, scale, use_reentrant=False)

        return reverse(noised, chosen, estimate, generator, clamp=self.bounded)

    def inpaint_steps(self, *, steps: int = 100, jump_length: int = 10, resamplings: int = 5, **_) -> int:
        return repaint_steps(steps, jump_length, resamplings)


def unet_for(config: DiffusionConfig, channels: int, *, num_classes: int = 0) -> UNet:
    """The U-Net a diffusion config describes, with ``channels`` in and out."""
    return UNet(
        channels=channels,
        image_size=config.image_size,
        width=config.width,
        channel_multipliers=tuple(config.channel_multipliers),
        blocks_per_level=config.blocks_per_level,
        attention_sides=tuple(config.attention_sides),
        heads=config.heads,
        dropout=config.dropout,
        num_classes=num_classes,
    )


def run_sampler_for(config: DiffusionConfig, schedule: NoiseSchedule, name, steps, eta) -> Sampler:
    """A sampler of the table for a run: name, steps, eta and spacing default to the run's config."""
    name = name or config.sampler
    method = SAMPLERS.get(name)
    if eta is None and method.option("eta") is not None:
        eta = config.eta
    spacing = config.sample_spacing if method.option("spacing") is not None else None
    steps = config.sample_steps if steps is None else steps
    return make_sampler(name, schedule, steps, eta=eta, spacing=spacing)


def reverse(
    x_t: torch.Tensor,
    sampler: Sampler,
    estimate: Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]],
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    clamp: bool = True,
) -> torch.Tensor:
    """The reverse process: ``sampler`` from x_T to x_0 (``clamp``: to [-1, 1]), ``estimate(x_t, t)`` giving the
    model's (x_0, eps); fresh noise from ``generator``. The one entry every diffusion family samples through."""

    def fresh_noise(x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator).to(x.device)

    made = sampler.run(x_t, estimate, fresh_noise, progress)
    return made.clamp(-1, 1) if clamp else made


def repaint_steps(steps: int = 100, jump_length: int = 10, resamplings: int = 5) -> int:
    """Network evaluations of one RePaint run."""
    return repaint_moves(steps, jump_length, resamplings).count(-1)


def repaint_moves(levels: int, jump_length: int, resamplings: int) -> list[int]:
    """RePaint's schedule as moves: -1 a reverse step, +1 a re-noising step. Starting at ``levels`` (noise)
    it ends at 0 (clean); every ``jump_length`` levels it goes back up ``jump_length`` levels
    ``resamplings - 1`` times."""
    if jump_length < 1 or resamplings < 1:
        raise InputError(f"jump_length and resamplings must be >= 1, got {jump_length} and {resamplings}")
    remaining = {start: resamplings - 1 for start in range(0, max(0, levels - jump_length), jump_length)}
    moves, level = [], levels
    while level > 0:
        level -= 1
        moves.append(-1)
        if remaining.get(level, 0) > 0:
            remaining[level] -= 1
            moves.extend([+1] * jump_length)
            level += jump_length
    return moves
