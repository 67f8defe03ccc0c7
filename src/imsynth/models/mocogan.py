"""MoCoGAN (Tulyakov et al. 2018) on the GAN engine: a clip is one content code and a path of motion codes.

The generator draws z_C once per clip and, per frame, noise eps_t fed through a GRU: z_M(t) = GRU(eps_t,
z_M(t-1)); every frame is the DCGAN image generator's picture of [z_C, z_M(t)]. Two discriminators judge it: an
image discriminator on one random frame (are the frames real things?) and a 3D-convolutional video discriminator
on the whole clip (is it real motion?). Their logits are judged together by the GAN loss of the loss table, so
the step, the TTUR, the EMA, the penalties and the collapse guard are the GAN family's (``gan.Adversarial``).

The whole randomness of a clip is one vector, [z_C, eps_1..eps_T] (``latent_dim`` = content_dim + frames x
motion_noise), so sampling, seeds and resumption work as for images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .base import register_model, require
from .gan import GAN_TRAINING, Adversarial, GANConfig
from .gan_networks import DCGANDiscriminator, DCGANGenerator
from .networks import stage_plan
from .video import VideoModel


@dataclass
class MoCoGANConfig(GANConfig):
    frames: int = 15  # frames per clip, filled from the dataset
    content_dim: int = 50  # z_C, one per clip (the paper's d_C)
    motion_dim: int = 10  # z_M(t), the GRU's state (d_M)
    motion_noise: int = 10  # eps_t per frame

    search_space: ClassVar[dict] = {
        **{key: value for key, value in GANConfig.search_space.items() if key != "latent_dim"},
        "content_dim": {"choices": [32, 50, 64]},
        "motion_dim": {"choices": [8, 10, 16]},
    }

    def __post_init__(self) -> None:
        require(self.frames >= 2, f"frames must be at least 2, got {self.frames}")
        require(
            self.content_dim >= 1 and self.motion_dim >= 1 and self.motion_noise >= 1,
            "content_dim, motion_dim and motion_noise must be >= 1",
        )
        require(self.architecture == "dcgan", "mocogan's frame generator is the DCGAN one: architecture=dcgan")
        require(not self.diffaugment, "diffaugment works on images; mocogan's discriminators see clips")
        require(not self.conditional, "mocogan draws clips without classes: conditional=false")
        self.latent_dim = self.content_dim + self.frames * self.motion_noise  # derived: a clip's whole randomness
        super().__post_init__()


class MotionGenerator(nn.Module):
    """[z_C, eps_1..eps_T] (B, latent_dim) -> clips (B, T, C, H, W) in [-1, 1]."""

    def __init__(self, config: MoCoGANConfig) -> None:
        super().__init__()
        c = config
        self.frames, self.content_dim, self.noise = c.frames, c.content_dim, c.motion_noise
        self.motion = nn.GRUCell(c.motion_noise, c.motion_dim)
        self.image = DCGANGenerator(
            latent_dim=c.content_dim + c.motion_dim,
            channels=c.channels,
            image_size=c.image_size,
            width=c.g_width,
            activation=c.g_activation,
            norm=c.g_norm,
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        batch = len(z)
        content = z[:, : self.content_dim]
        noise = z[:, self.content_dim :].view(batch, self.frames, self.noise)
        state = z.new_zeros(batch, self.motion.hidden_size)
        path = []
        for t in range(self.frames):
            state = self.motion(noise[:, t].float(), state.float()).to(z.dtype)
            path.append(state)
        codes = torch.cat([content[:, None].expand(-1, self.frames, -1), torch.stack(path, 1)], dim=2)
        frames = self.image(codes.flatten(0, 1))
        return frames.view(batch, self.frames, *frames.shape[1:])


class VideoDiscriminator(nn.Module):
    """clips (B, T, C, H, W) -> logits (B,): 3D convolutions halving height and width (and time, while it lasts)
    down to 4x4, then a 4x4 convolution to one logit per time step, averaged."""

    def __init__(self, *, channels: int, image_size: int, width: int) -> None:
        super().__init__()
        widths, _ = stage_plan(image_size, width)
        layers, c_in = [], channels
        for index, c_out in enumerate(widths[:-1]):
            time_stride = 2 if index < 2 else 1
            layers += [nn.Conv3d(c_in, c_out, (3, 4, 4), (time_stride, 2, 2), (1, 1, 1)), nn.LeakyReLU(0.2, True)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv3d(c_in, 1, (1, 4, 4))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(clips.transpose(1, 2))).flatten(1).mean(1)


class ClipDiscriminators(nn.Module):
    """D_I on one frame per clip and D_V on the clip: (B, T, C, H, W) -> logits (2B,), the clips' then the
    frames'. ``index``: the frame D_I sees per clip (the middle one when not given)."""

    def __init__(self, config: MoCoGANConfig) -> None:
        super().__init__()
        c = config
        shape = dict(channels=c.channels, image_size=c.image_size)
        self.image = DCGANDiscriminator(
            width=c.d_width, activation=c.d_activation, norm=c.d_norm, spectral=c.spectral_norm, **shape
        )
        self.video = VideoDiscriminator(width=c.d_width, **shape)

    def forward(self, clips: torch.Tensor, labels=None, index: torch.Tensor | None = None) -> torch.Tensor:
        if index is None:
            index = torch.full((len(clips),), clips.shape[1] // 2, device=clips.device)
        frames = clips[torch.arange(len(clips), device=clips.device), index]
        return torch.cat([self.video(clips), self.image(frames)])


@register_model(
    "mocogan",
    description="MoCoGAN: clips from a content code and a GRU motion path; an image and a video discriminator",
    data="clips",
    # channels_last off: the video discriminator's 3D convolutions have 5-d weights
    train_defaults={**GAN_TRAINING, "fid_every": 0, "batch_size": 32, "num_samples": 6, "channels_last": False},
    tiny={"content_dim": 4, "motion_dim": 2, "motion_noise": 2, "g_width": 4, "d_width": 4},
    d_norm="none",
    # 15 frames a clip through the frame generator: width 32 keeps a step within a CPU's budget
    g_width=32,
    d_width=32,
)
class MoCoGAN(VideoModel, Adversarial):
    config_class = MoCoGANConfig
    capabilities = frozenset({"clips", "sample"})

    def __init__(self, config: MoCoGANConfig) -> None:
        super().__init__(config, generator=MotionGenerator(config), discriminator=ClipDiscriminators(config))

    def discriminate(self, images: torch.Tensor, labels: torch.Tensor | None, uniform=None) -> torch.Tensor:
        frames = images.shape[1]
        index = None
        if uniform is not None:  # the engine's noise, so a resumed run sees the same frames
            index = (uniform((len(images),)).float() * frames).long().clamp_max(frames - 1).to(images.device)
        return self.discriminator(images, None, index).float()
