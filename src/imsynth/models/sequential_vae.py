"""``dsvae``: the disentangled sequential VAE (Li & Mandt 2018) on the video models' frame networks.

One static latent f per clip (a bidirectional LSTM over the frames) and one dynamic latent z_t per frame (from that
frame); frames decoded from (f, z_t) with no skip, so all content must pass through f and all motion through z.
Swapping f between clips swaps content and keeps motion.

``decoder=placed`` splits the drawing the same way: f alone draws one canvas per clip and z_t alone an affine map
that places it in each frame (a spatial transformer, Jaderberg et al. 2015, as DDPAE (Hsieh et al. 2018) places its
objects), so the item is drawn once, from the code that holds it, instead of anew at every position from a vector
that must also say where. Right for one object moving over a plain background; not for a moving camera or two
objects moving apart. With it, ``register`` reads the content code from the clip held still (each frame moved back
by its own map, as an inverse spatial transformer), and ``centre_weight`` ties every map to its frame's brightness
centre, so that all canvases draw their item in one place and any clip's maps place any clip's canvas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .adversarial import JudgeSettings, PatchJudged
from .base import LossOutput, Noise, register_model, require
from .video import (
    NORMS,
    VIDEO_TRAIN,
    ClipShape,
    FrameDecoder,
    FrameEncoder,
    GaussianLSTM,
    VideoModel,
    brightness_centres,
    gaussian_kl,
    leaky,
    select_frames,
)

DECODERS = ("joint", "placed")


def place(canvas: torch.Tensor, maps: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Canvas logits (N, C, H, W) seen through affine maps (N, 2, 3) from frame to canvas coordinates ([-1, 1]), as
    frames of ``size`` (the canvas's by default). Outside the canvas its edge carries on: in logits, the background
    goes on as background rather than grey."""
    grid = F.affine_grid(maps, [*canvas.shape[:2], *(size or canvas.shape[2:])], align_corners=False)
    return F.grid_sample(canvas, grid, mode="bilinear", padding_mode="border", align_corners=False)


def inverse_maps(maps: torch.Tensor) -> torch.Tensor:
    """The affine maps (N, 2, 3) that undo ``maps``: canvas to frame coordinates where those go frame to canvas."""
    inverse = torch.linalg.inv(maps[:, :, :2])
    return torch.cat([inverse, -inverse @ maps[:, :, 2:]], dim=2)


@dataclass
class DSVAEConfig(JudgeSettings, ClipShape):
    width: int = 32
    hidden: int = 128
    rnn: int = 256
    content_dim: int = 32  # f: one per clip
    # z_t: one per frame. Small, so that the item's looks cannot ride along with its position: at 8 the swapped
    # item was the motion clip's a third of the time, at 4 and 2 a few percent (docs/benchmarks.md, Video)
    motion_dim: int = 4
    beta: float = 1.0  # KL weight on both latents
    # a further factor on the content latent's KL alone, so the clip's code may carry more of the item while the
    # motion codes stay as tight as beta keeps them. At 0.1 the drawing was no sharper (the decoder, not the code, is
    # what is short; docs/benchmarks.md, Video), so it stays 1
    content_kl_scale: float = 1.0
    norm: str = field(default="batch", metadata={"choices": NORMS})  # in the frame encoder and decoder
    # "joint": each frame drawn from (f, z_t); "placed": f draws a canvas, z_t an affine map placing it per frame.
    # Placed alone, in the same 30 minutes the swapped item kept its class 2x as often but B's path only 80% of the
    # time; with register, centre_weight and sprite 3.0x and 100% (the preset one-object-cpu-30min). Joint by default:
    # a canvas is wrong for two items or a moving camera (docs/benchmarks.md, Video)
    decoder: str = field(default="joint", metadata={"choices": DECODERS})
    # placed only: the content code read from the clip held still (each frame moved back onto the canvas by its own
    # map, the frames averaged) instead of from the moving frames, so the encoder sees the item once, in one place.
    # With centre_weight=1 the classifier named the swapped item 75% of the time where placed alone made 53%
    register: bool = False
    # placed only: a pull (per squared pixel, per frame) bringing where each frame's map puts the canvas centre onto
    # that frame's brightness centre, so every canvas draws its item's mass at its centre and a swapped item follows
    # the motion clip's path rather than that path shifted by where each canvas happened to draw (at 1: every swap
    # within 4 px of B's path, mean 0.5-0.8 px, where placed alone kept 80%)
    centre_weight: float = 0.0
    # placed only: the canvas's side in pixels (0: the frame's), placed at that size to start with. A 32-pixel canvas
    # holds a 28-pixel item at the frame's resolution, and the decoder draws no more than the item (81% against 78%
    # at 64, the same 30 minutes' worth, one seed each)
    sprite: int = 0
    # a patch judge on the drawn frames (vae-gan's, adversarial.py), pulling them from the likelihood's blur. At 1
    # from step 500 on 3 frames a clip, the classifier named the swapped item 1.5x as often in the same 30 minutes
    # (0.5 the same, 2 no gain); one seed each, so off by default (docs/benchmarks.md, Video)
    adversarial_weight: float = 0.0
    # how many frames of each clip the judge sees, drawn at random per clip each step (0: all). Judging all 15 frames
    # made a step cost 1.4x a plain one, 3 of them 1.1x; a few frames a clip still judge the decoder every frame uses
    judge_frames: int = 0

    search_space: ClassVar[dict] = {
        "motion_dim": {"choices": [2, 4, 8, 16]},
        "content_dim": {"choices": [16, 32, 64]},
        "train.lr": {"low": 3e-4, "high": 3e-3, "log": True},
    }
    absent_in_older_runs: ClassVar[dict] = {"norm": "none"}

    def __post_init__(self) -> None:
        require(self.frames >= 2, f"frames must be at least 2, got {self.frames}")
        require(self.content_dim >= 1 and self.motion_dim >= 1, "content_dim and motion_dim must be >= 1")
        require(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        require(self.content_kl_scale >= 0, f"content_kl_scale must be >= 0, got {self.content_kl_scale}")
        self.check_judge()
        require(self.centre_weight >= 0, f"centre_weight must be >= 0, got {self.centre_weight}")
        require(
            self.decoder == "placed" or not (self.register or self.centre_weight),
            "register and centre_weight need decoder=placed (they act on its maps)",
        )
        if self.sprite:
            require(self.decoder == "placed", "sprite needs decoder=placed (it is the canvas's side)")
            require(self.sprite >= 8, f"sprite must be 0 or at least 8 pixels, got {self.sprite}")
        require(
            0 <= self.judge_frames <= self.frames,
            f"judge_frames must be between 0 (all) and frames ({self.frames}), got {self.judge_frames}",
        )


@register_model(
    "dsvae",
    description="disentangled sequential VAE: a content latent per clip, a motion latent per frame (swap, generate)",
    data="clips",
    train_defaults=VIDEO_TRAIN,
    tiny={"width": 4, "hidden": 8, "rnn": 8, "content_dim": 3, "motion_dim": 2},
)
class DSVAE(PatchJudged, VideoModel):
    config_class = DSVAEConfig
    capabilities = frozenset({"clips", "sample", "predictor", "content-motion"})

    def __init__(self, config: DSVAEConfig) -> None:
        super().__init__(config)
        c = config
        self.encoder = FrameEncoder(c.channels, c.image_size, c.width, c.hidden, norm=c.norm)
        placed = c.decoder == "placed"
        # here, not in the config: the frame's side is the data's, filled in after the user's settings
        require(c.sprite <= c.image_size, f"sprite ({c.sprite}) is larger than the frames ({c.image_size} pixels)")
        self.canvas_size = c.sprite or c.image_size
        code = c.content_dim + (0 if placed else c.motion_dim)
        self.decoder = FrameDecoder(c.channels, self.canvas_size, c.width, code, skips=False, norm=c.norm)
        if placed:
            # z_t -> the 2x3 map from each frame's coordinates to the canvas', starting at the identity (or a zoom)
            self.placement = nn.Sequential(nn.Linear(c.motion_dim, c.hidden), leaky(), nn.Linear(c.hidden, 6))
            nn.init.zeros_(self.placement[-1].weight)
            with torch.no_grad():
                zoom = c.image_size / self.canvas_size  # the canvas at its own pixels' size, in the frame's middle
                self.placement[-1].bias.copy_(torch.tensor([zoom, 0.0, 0.0, 0.0, zoom, 0.0]))
        if c.register:
            self.content_encoder = FrameEncoder(c.channels, self.canvas_size, c.width, c.hidden, norm=c.norm)
            self.content_head = nn.Linear(c.hidden, 2 * c.content_dim)
        else:
            self.content_rnn = nn.LSTM(c.hidden, c.rnn, batch_first=True, bidirectional=True)
            self.content_head = nn.Linear(2 * c.rnn, 2 * c.content_dim)
        self.motion_head = nn.Sequential(nn.Linear(c.hidden, c.rnn), leaky(), nn.Linear(c.rnn, 2 * c.motion_dim))
        self.prior = GaussianLSTM(c.motion_dim, c.rnn, c.motion_dim)
        self.build_judge(c.channels)

    @property
    def context_frames(self) -> int:
        """Any context works; a third of the training clip is the default a user gets."""
        return max(1, self.config.frames // 3)

    def encode_clips(self, clips: torch.Tensor):
        """(mean, log var) of the content latent (B, content_dim) and of the motion latents (B, T, motion_dim)."""
        batch, frames = clips.shape[:2]
        h, _ = self.encoder(clips.flatten(0, 1))
        h = h.unflatten(0, (batch, frames))
        motion = self.motion_head(h).chunk(2, dim=2)
        if self.config.register:
            moved_back = inverse_maps(self.maps(motion[0]).flatten(0, 1))
            still = place(clips.flatten(0, 1).float(), moved_back, (self.canvas_size, self.canvas_size))
            summary, _ = self.content_encoder(still.unflatten(0, (batch, frames)).mean(1).to(h.dtype))
        else:
            out, _ = self.content_rnn(h)
            half = self.config.rnn
            summary = torch.cat([out[:, -1, :half], out[:, 0, half:]], dim=1)
        content = self.content_head(summary).chunk(2, dim=1)
        return (content[0], content[1].clamp(-10, 10)), (motion[0], motion[1].clamp(-10, 10))

    def motion_prior(self, motion: torch.Tensor):
        """p(z_t | z_<t) for given motion latents (B, T, d): (mean, log var) each (B, T, d)."""
        batch, frames, dim = motion.shape
        previous = torch.cat([motion.new_zeros(batch, 1, dim), motion[:, :-1]], dim=1)
        state, means, log_vars = None, [], []
        for t in range(frames):
            mean, log_var, state = self.prior(previous[:, t], state)
            means.append(mean)
            log_vars.append(log_var)
        return torch.stack(means, 1), torch.stack(log_vars, 1)

    def maps(self, motion: torch.Tensor) -> torch.Tensor:
        """The placed decoder's affine maps (B, T, 2, 3), frame to canvas coordinates, for motion codes (B, T, d)."""
        return self.placement(motion).float().unflatten(-1, (2, 3))

    def decode_clips(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """content (B, content_dim) and motion (B, T, motion_dim) -> frame logits (B, T, C, H, W)."""
        batch, frames = motion.shape[:2]
        if self.config.decoder == "placed":
            canvas = self.decoder(content).float().repeat_interleave(frames, dim=0)
            size = (self.config.image_size, self.config.image_size)
            return place(canvas, self.maps(motion).flatten(0, 1), size).unflatten(0, (batch, frames))
        codes = torch.cat([content[:, None].expand(-1, frames, -1), motion], dim=2).flatten(0, 1)
        return self.decoder(codes).unflatten(0, (batch, frames))

    def loss(
        self, images, labels=None, *, step=0, noise: Noise | None = None, uniform: Noise | None = None
    ) -> LossOutput:
        return self.objective_and_logits(images, noise)[0]

    def objective_and_logits(self, clips: torch.Tensor, noise: Noise | None) -> tuple[LossOutput, torch.Tensor]:
        """The objective and the frame logits it scored (B, T, C, H, W), for the judge."""
        c = self.config
        batch, frames = clips.shape[:2]
        (f_mean, f_log_var), (z_mean, z_log_var) = self.encode_clips(clips)
        draw = noise if noise is not None else (lambda shape: torch.randn(shape))
        f = f_mean + (0.5 * f_log_var).exp() * draw((batch, c.content_dim)).to(f_mean)
        z = z_mean + (0.5 * z_log_var).exp() * draw((batch, frames, c.motion_dim)).to(z_mean)
        logits = self.decode_clips(f, z).float()
        target = (clips.float() + 1) / 2
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / batch
        kl_f = gaussian_kl(f_mean, f_log_var, torch.zeros_like(f_mean), torch.zeros_like(f_log_var)).mean()
        p_mean, p_log_var = self.motion_prior(z)
        kl_z = gaussian_kl(z_mean, z_log_var, p_mean, p_log_var).sum(1).mean()
        loss = (recon + c.beta * (c.content_kl_scale * kl_f + kl_z)) / frames
        parts = {"recon": recon.detach() / frames, "kl_content": kl_f.detach(), "kl_motion": kl_z.detach() / frames}
        if c.centre_weight:
            # where the canvas centre (0, 0) lands in each frame, against the frame's own brightness centre, in pixels
            landed = inverse_maps(self.maps(z).flatten(0, 1))[:, :, 2].unflatten(0, (batch, frames))
            half_size = torch.tensor(clips.shape[-1:-3:-1], dtype=torch.float32, device=landed.device) / 2
            off = ((landed - brightness_centres(clips)) * half_size).pow(2).sum(-1).mean()
            loss = loss + c.centre_weight * off
            parts["centre_px2"] = off.detach()
        return LossOutput(loss, parts), logits

    def train_step(self, images: torch.Tensor, labels: torch.Tensor | None, context) -> dict:
        if not self.has_judge:
            return super().train_step(images, labels, context)
        with context.autocast():
            output, logits = self.objective_and_logits(images, context.randn)
        logged = {"loss": output.loss.detach(), **output.parts}
        drawn = torch.sigmoid(logits) * 2 - 1
        real = images
        if 0 < self.config.judge_frames < images.shape[1]:
            # the same keyed noise on every process and on resume, so the pick is as exact as the rest of the step
            picked = context.uniform(images.shape[:2]).argsort(dim=1)[:, : self.config.judge_frames]
            real, drawn = (select_frames(x, picked) for x in (images, drawn))
        last = self.decoder.ups[0].weight
        return self.judged_step(context, output.loss, logged, real.flatten(0, 1), drawn.flatten(0, 1), last)

    def _rollout(self, motion: torch.Tensor, frames: int, generator) -> torch.Tensor:
        """Motion latents continued from the prior for ``frames`` more steps after ``motion`` (B, k, d)."""
        batch, known, dim = motion.shape
        state, previous = None, motion.new_zeros(batch, dim)
        for t in range(known):
            _, _, state = self.prior(previous, state)
            previous = motion[:, t]
        made = []
        for _ in range(frames):
            mean, log_var, state = self.prior(previous, state)
            previous = mean + (0.5 * log_var).exp() * torch.randn(mean.shape, generator=generator).to(mean)
            made.append(previous)
        return torch.stack(made, 1)

    def sample(self, count, *, labels=None, generator=None):
        self.check_labels(labels, count)
        c = self.config
        device = next(self.parameters()).device
        content = torch.randn(count, c.content_dim, generator=generator).to(device)
        motion = self._rollout(torch.zeros(count, 0, c.motion_dim, device=device), c.frames, generator)
        return self.frames_of(self.decode_clips(content, motion))

    def continue_clips(self, context: torch.Tensor, frames: int, generator) -> torch.Tensor:
        """The content of the context, its motion continued by the learned prior."""
        (f_mean, _), (z_mean, _) = self.encode_clips(context)
        return self.frames_of(self.decode_clips(f_mean, self._rollout(z_mean, frames, generator)))

    @torch.no_grad()
    def swap(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Clips with the content of ``content`` and the motion of ``motion`` (both B x T x C x H x W; B may be 1
        on one side); as many frames as the motion clips."""
        self.check_clips(content, where="content clip")
        self.check_clips(motion, where="motion clip")
        device = next(self.parameters()).device
        (f_mean, _), _ = self.encode_clips(content.to(device, torch.float32))
        _, (z_mean, _) = self.encode_clips(motion.to(device, torch.float32))
        if len(f_mean) != len(z_mean) and min(len(f_mean), len(z_mean)) != 1:
            raise InputError(
                f"{len(f_mean)} content clips and {len(z_mean)} motion clips: give as many, or one of either"
            )
        count = max(len(f_mean), len(z_mean))
        f_mean, z_mean = f_mean.expand(count, -1), z_mean.expand(count, -1, -1)
        return self.frames_of(self.decode_clips(f_mean, z_mean)).cpu()

    @torch.no_grad()
    def reconstruct(self, clips: torch.Tensor) -> torch.Tensor:
        self.check_clips(clips)
        (f_mean, _), (z_mean, _) = self.encode_clips(clips.to(next(self.parameters()).device, torch.float32))
        return self.frames_of(self.decode_clips(f_mean, z_mean)).cpu()
