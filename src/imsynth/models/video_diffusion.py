"""``video-ddpm``: masked conditional video diffusion (MCVD, Voleti et al. 2022) from a plain 2D U-Net.

A window of ``past + block + future`` consecutive frames is cut from each training clip; the ``block`` frames
are noised and the U-Net, given the clean ``past`` and ``future`` frames stacked with them on the channel axis,
predicts the block's noise (v-prediction on the cosine schedule, as ``ddpm``). The past and the future are each
masked (set to zero) at random with probability ``mask_probability``, so one network learns all three tasks:
past only (prediction), neither (generation) and both (interpolation). Long clips are made block by block, each
conditioned on the last ``past`` frames made. Sampling runs any sampler of the sampler table
(``imsynth.models.samplers``), so fewer-step samplers apply to it as they land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..errors import InputError
from .base import LossOutput, register_model, require
from .diffusion import DiffusionConfig, reverse, run_sampler_for, unet_for
from .objectives import estimates, training_target
from .samplers import SAMPLERS, NoiseSchedule, Sampler
from .video import ClipShape, VideoModel, select_frames


@dataclass
class VideoDiffusionConfig(DiffusionConfig, ClipShape):
    past: int = 2  # conditioning frames before the block
    block: int = 2  # frames denoised together
    future: int = 1  # conditioning frames after the block (interpolation)
    mask_probability: float = 0.5  # each of past and future dropped at random in training
    sample_steps: int = 25
    attention_sides: tuple[int, ...] = (8,)
    sampler: str = field(default="ddim", metadata={"choices": SAMPLERS})

    search_space: ClassVar[dict] = {
        "train.lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "width": {"choices": [16, 32, 48]},
        "block": {"choices": [1, 2, 3]},
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.prediction != "edm", "prediction edm is not built for video-ddpm (its conditioning frames)")
        require(self.past >= 1 and self.block >= 1 and self.future >= 0, "need past >= 1, block >= 1, future >= 0")
        require(0 <= self.mask_probability < 1, "mask_probability must be in [0, 1)")
        require(
            self.past + self.block + self.future <= self.frames,
            f"past + block + future ({self.past + self.block + self.future}) must fit in a clip of {self.frames} frames",
        )


VIDEO_DIFFUSION_TRAINING = dict(
    lr=4e-4, warmup_steps=200, batch_size=32, grad_clip=1.0, channels_last=False, sample_every=1000, num_samples=4
)


@register_model(
    "video-ddpm",
    description="masked conditional video diffusion (MCVD): one 2D U-Net predicts, generates and interpolates clips",
    data="clips",
    train_defaults=VIDEO_DIFFUSION_TRAINING,
    tiny={"width": 8, "timesteps": 20, "sample_steps": 3, "sample_precision": "fp32", "past": 1, "block": 1},
)
class VideoDiffusion(VideoModel):
    config_class = VideoDiffusionConfig
    capabilities = frozenset({"clips", "sample", "predictor", "interpolator", "iterative-sampler"})
    sample_batch_size = 16

    def __init__(self, config: VideoDiffusionConfig) -> None:
        super().__init__(config)
        c = config
        # the past, the block and the future stacked on the channel axis; the block's slice of the output is read
        self.network = unet_for(c, c.channels * (c.past + c.block + c.future))
        self.schedule = NoiseSchedule(c.schedule, c.timesteps)

    @property
    def context_frames(self) -> int:
        return self.config.past

    def _stack(self, past: torch.Tensor, block: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """(B, frames, C, H, W) pieces -> the network's input (B, (past + block + future) * C, H, W)."""
        return torch.cat([past.flatten(1, 2), block.flatten(1, 2), future.flatten(1, 2)], dim=1)

    def _block_output(self, output: torch.Tensor) -> torch.Tensor:
        c = self.config
        return output[:, c.past * c.channels : (c.past + c.block) * c.channels]

    def loss(self, images, labels=None, *, step=0, noise=None, uniform: Callable | None = None) -> LossOutput:
        clips, c = images, self.config
        uniform = uniform or (lambda shape: torch.rand(shape))
        noise = noise or (lambda shape: torch.randn(shape))
        batch, frames = clips.shape[:2]
        span = c.past + c.block + c.future
        start = (uniform((batch,)) * (frames - span + 1)).long().clamp(max=frames - span).to(clips.device)
        index = start[:, None] + torch.arange(span, device=clips.device)
        window = select_frames(clips, index)  # (B, span, C, H, W)
        past, block, future = window.split([c.past, c.block, c.future], dim=1)
        keep_past = (uniform((batch,)) >= c.mask_probability).to(clips)[:, None, None, None, None]
        keep_future = (uniform((batch,)) >= c.mask_probability).to(clips)[:, None, None, None, None]
        t = (uniform((batch,)) * c.timesteps).long().clamp(max=c.timesteps - 1).to(clips.device)
        clean = block.flatten(1, 2)
        eps = noise(tuple(clean.shape)).to(clean)
        noisy = self.schedule.add_noise(clean, eps, t).to(clean.dtype)
        network_input = self._stack(past * keep_past, noisy.unflatten(1, (c.block, c.channels)), future * keep_future)
        output = self._block_output(self.network(network_input, t).float())
        target = training_target(c.prediction, self.schedule, clean, eps, t)
        per_clip = (output - target).pow(2).flatten(1).mean(dim=1)
        return LossOutput(per_clip.mean(), {"mse_masked_past": (per_clip * (1 - keep_past.flatten())).mean().detach()})

    def sampler(self, name: str | None = None, steps: int | None = None, eta: float | None = None) -> Sampler:
        return run_sampler_for(self.config, self.schedule, name, steps, eta)

    @torch.no_grad()
    def _make_block(self, past, future, sampler: Sampler, generator) -> torch.Tensor:
        """One block of frames (B, block, C, H, W) given past/future (masked where zero-filled)."""
        c = self.config
        device = next(self.parameters()).device
        shape = (len(past), c.block * c.channels, c.image_size, c.image_size)
        x_t = torch.randn(shape, generator=generator).to(device)

        def estimate(x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
            timesteps = torch.full((len(x),), t, dtype=torch.int64, device=device)
            network_input = self._stack(past, x.unflatten(1, (c.block, c.channels)), future)
            output = self._block_output(self.network(network_input, timesteps).float())
            return estimates(c.prediction, self.schedule, x, t, output, clip=c.clip_denoised)

        return reverse(x_t, sampler, estimate, generator).unflatten(1, (c.block, c.channels))

    def _continue(self, history: torch.Tensor, frames: int, sampler: Sampler, generator, end=None) -> torch.Tensor:
        """``frames`` frames after ``history`` (B, k, C, H, W; k may be 0), block by block; ``end`` (B, f, C, H, W)
        conditions every block on the frames to arrive at (interpolation)."""
        c = self.config
        batch = len(history)
        blank = history.new_zeros(batch, 1, c.channels, c.image_size, c.image_size)
        future = end if end is not None else blank.expand(-1, c.future, -1, -1, -1)
        made = []
        while sum(m.shape[1] for m in made) < frames:
            known = torch.cat([history, *made], dim=1)
            past = known[:, -c.past :]
            if past.shape[1] < c.past:  # too little known: the missing past is masked, as in training
                past = torch.cat([blank.expand(-1, c.past - past.shape[1], -1, -1, -1), past], dim=1)
            made.append(self._make_block(past, future, sampler, generator))
        return torch.cat(made, dim=1)[:, :frames]

    def sample(self, count, *, labels=None, generator=None, sampler=None, steps=None, eta=None):
        self.check_labels(labels, count)
        c = self.config
        device = next(self.parameters()).device
        empty = torch.zeros(count, 0, c.channels, c.image_size, c.image_size, device=device)
        return self._continue(empty, c.frames, self.sampler(sampler, steps, eta), generator)

    def continue_clips(self, context: torch.Tensor, frames: int, generator) -> torch.Tensor:
        return self._continue(context, frames, self.sampler(), generator)

    @torch.no_grad()
    def interpolate_frames(
        self, first: torch.Tensor, last: torch.Tensor, frames: int, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``frames`` frames between ``first`` and ``last`` (each B x k x C x H x W, k >= 1): each block sees the
        frames before it and the ``last`` frames after."""
        self.check_clips(first, where="first frames")
        self.check_clips(last, where="last frames")
        if frames < 1:
            raise InputError(f"--frames must be at least 1, got {frames}")
        c = self.config
        if not c.future:
            raise InputError(f"model {self.registered_name!r} was trained with future=0 and cannot interpolate")
        device = next(self.parameters()).device
        end = last.to(device, torch.float32)[:, : c.future]
        if end.shape[1] < c.future:
            end = torch.cat([end, end[:, -1:].expand(-1, c.future - end.shape[1], -1, -1, -1)], dim=1)
        return self._continue(first.to(device, torch.float32), frames, self.sampler(), generator, end=end).cpu()

    def preview(self, dataset, count: int):
        return self.preview_rows(self.generate(count, seed=1234, progress=False))
