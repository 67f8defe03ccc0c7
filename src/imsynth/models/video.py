"""Video models on the shared engine: clips are float B x T x C x H x W in [-1, 1] (``imsynth.clips``).

- ``svg``: stochastic video generation with a learned prior (SVG-LP, Denton & Fergus 2018). A frame encoder
  gives h_t; a posterior LSTM q(z_t | x_1..t) and a prior LSTM p(z_t | x_1..t-1) over a per-frame latent; a
  predictor LSTM maps (h_t-1, z_t) to the next frame's features, decoded with skip connections from the last
  context frame (the background and the items' looks come from there, the motion from the LSTMs). Trained
  with teacher forcing on per-pixel cross-entropy + ``ssim_weight`` * (1 - SSIM) + beta * KL(q || p); at test time
  z_t is drawn from the prior, so several samples give several futures. ``output="cdna"`` draws each frame as moved pixels instead of decoded
  ones (CDNA, Finn et al. 2016, with separable kernels as in SepConv, Niklaus et al. 2017): the predicted features
  give a few normalised 11-tap kernels per axis, each a motion of the previous frame, and the decoder a per-pixel
  mask that mixes the previous frame moved by each with decoded pixels for what no kernel shows. A separable
  kernel is a translation, sub-pixel included, at two small matrix products a frame (three kernels on a step's
  448 frames, forward and backward: 57 ms, against 159 for the same kernels as 11x11 ones by a grouped F.conv2d
  and 247 by FFT; benchmarks/cdna_kernels.py). Not the default: at 30 minutes on moving-fashion it scored SSIM
  0.42 against decoded pixels' 0.65 (docs/benchmarks.md): the kernels, read from one feature vector, hedge over
  the possible motions, and a blur applied frame after frame compounds. On real recordings it is the better one
  (best-of-20 SSIM 0.870 against 0.851 on vtest.avi, 0.725 against 0.566 on Megamind.avi, 1,056 steps), as a
  textured frame is kept rather than redrawn; both stay below copying the last frame there. A dense flow instead
  of kernels did no better than decoded pixels at 612 steps and was dropped. ``output="cdna-still"`` adds a mask
  for the last context frame unmoved (a fixed camera's background then never drifts) and ``cdna_start="copy"``
  starts a new model as a copy (0.5% drawn pixels, sharper kernels): together they put a fixed-camera recording
  above copying on two seeds (vtest.avi 0.8806 / 0.8823 against 0.8790); a film with camera motion does best with
  plain ``cdna`` and ``norm="none"`` (Megamind.avi 0.7488 / 0.7498 against 0.7425); each advice rests on one
  recording.
- ``svg-det``: the same network with no latent (``latent_dim=0``): the deterministic baseline, which predicts
  the mean future and blurs where the future is uncertain.
- ``dsvae`` (``sequential_vae``) shares the frame networks below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .base import DataShape, GenerativeModel, LossOutput, Noise, register_model, require
from .networks import band_matrix, ssim, stage_plan


@dataclass
class ClipShape(DataShape):
    frames: int = 15  # frames per training clip, filled from the dataset


def brightness_centres(clips: torch.Tensor) -> torch.Tensor:
    """Each frame's brightness-weighted centre (B, T, 2) as (x, y) in [-1, 1] coordinates (``F.affine_grid``'s, align_corners=False)."""
    mass = ((clips.float() + 1) / 2).mean(dim=2)
    total = mass.sum(dim=(2, 3)).clamp_min(1e-6)
    height, width = mass.shape[2:]
    xs = (2 * torch.arange(width, device=mass.device) + 1) / width - 1
    ys = (2 * torch.arange(height, device=mass.device) + 1) / height - 1
    return torch.stack([(mass.sum(2) * xs).sum(-1) / total, (mass.sum(3) * ys).sum(-1) / total], dim=-1)


def leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


NORMS = ("none", "batch", "decoder")  # "decoder": batch norm in the frame decoder only
OUTPUTS = ("pixels", "cdna", "cdna-still")  # cdna-still: one more mask, for the last context frame unmoved
CDNA_STARTS = ("even", "copy")  # a new model's masks: even over moved and drawn pixels, or (copy) the moved ones
CDNA_KERNELS = 3  # motions per frame: two items, or (a fixed camera) the still background and two movers
CDNA_SIZE = 11  # offsets up to 5 px a frame, the fastest item's speed in moving-fashion


def _norm(kind: str, channels: int, part: str) -> nn.Module:
    # Without normalisation a code-only decoder at lr 1e-3 never leaves the mean frame: a plain 64x64 frame
    # autoencoder stays at 759 nats a frame after 400 steps, 282 with batch norm (benchmarks/frame_autoencoder.py).
    wanted = kind == "batch" or (kind == "decoder" and part == "decoder")
    return nn.BatchNorm2d(channels) if wanted else nn.Identity()


class FrameEncoder(nn.Module):
    """frames (N, C, H, W) -> features (N, dim) and every level's feature map (the decoder's skips). DCGAN-style
    stride-2 convolutions only: the full-resolution layers are where a CPU spends its time."""

    def __init__(self, channels: int, image_size: int, width: int, dim: int, *, norm: str = "none") -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width)
        ins = [channels, *widths[:-2]]
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 4, stride=2, padding=1), _norm(norm, b, "encoder"), leaky())
            for a, b in zip(ins, widths[:-1])
        )
        self.head = nn.Linear(widths[-2] * side * side, dim)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips, x = [], frames
        for down in self.downs:
            x = down(x)
            skips.append(x)
        return torch.tanh(self.head(x.flatten(1))), skips


class FrameDecoder(nn.Module):
    """features (N, dim) [+ skips from an encoder of the same plan] -> frame logits (N, C, H, W)."""

    def __init__(
        self, channels: int, image_size: int, width: int, dim: int, *, skips: bool, norm: str = "none"
    ) -> None:
        super().__init__()
        widths, side = stage_plan(image_size, width)
        self.top, self.side, self.skips = widths[-2], side, skips
        self.head = nn.Sequential(nn.Linear(dim, self.top * side * side), leaky())
        twice = 2 if skips else 1
        outs = [channels, *widths[:-2]]
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(b * twice, a, 4, stride=2, padding=1) for a, b in zip(outs, widths[:-1])
        )
        self.norms = nn.ModuleList(_norm(norm if level else "none", a, "decoder") for level, a in enumerate(outs))

    def forward(self, features: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        x = self.head(features).view(-1, self.top, self.side, self.side)
        for level in range(len(self.ups) - 1, -1, -1):
            if self.skips:
                x = torch.cat([x, skips[level]], dim=1)
            x = self.ups[level](x)
            if level:
                x = F.leaky_relu(self.norms[level](x), 0.2)
        return x


class GaussianLSTM(nn.Module):
    """An LSTM cell with a Gaussian head: input -> (mean, log variance), its state carried by the caller."""

    def __init__(self, inputs: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.embed = nn.Linear(inputs, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, 2 * outputs)

    def forward(self, x: torch.Tensor, state):
        state = self.cell(self.embed(x), state)
        mean, log_var = self.head(state[0]).chunk(2, dim=1)
        return mean, log_var.clamp(-10, 10), state


def select_frames(clips: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """clips (B, T, ...) at per-clip frame indices (B, k) -> (B, k, ...)."""
    return clips[torch.arange(clips.shape[0], device=clips.device)[:, None], index]


def gaussian_kl(mean_q, log_var_q, mean_p, log_var_p) -> torch.Tensor:
    """KL(q || p) of diagonal Gaussians, summed over the last dimension."""
    return 0.5 * (log_var_p - log_var_q + (log_var_q.exp() + (mean_q - mean_p) ** 2) / log_var_p.exp() - 1).sum(-1)


class VideoModel(GenerativeModel):
    """What every video family shares: clips in and out, frame rate conventions and the clip checks."""

    modality: ClassVar[str] = "clips"
    sample_batch_size: ClassVar[int] = 64

    def check_clips(self, clips: torch.Tensor, *, where: str = "clip", least: int = 1) -> None:
        """Refuse what is not a batch of clips of the run's frame size (one message for every use)."""
        config = self.config
        expected = (config.channels, config.image_size, config.image_size)
        if clips.ndim != 5:
            raise InputError(
                f"model {self.registered_name!r} works on clips (frames x channels x height x width); got a "
                f"{'still image' if clips.ndim in (3, 4) else f'{clips.ndim}-d array'}: give a video, a GIF, a folder "
                "of frames or an .npz of clips"
            )
        if tuple(clips.shape[2:]) != expected:
            raise InputError(
                f"model {self.registered_name!r} works on {expected[0]}-channel {expected[2]}x{expected[1]} frames; "
                f"the {where} has {clips.shape[2]}-channel {clips.shape[4]}x{clips.shape[3]} frames"
            )
        if clips.shape[1] < least:
            raise InputError(f"the {where} has {clips.shape[1]} frames; at least {least} are needed")

    @torch.no_grad()
    def predict(self, context: torch.Tensor, frames: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``frames`` frames after the context clips (B, k, C, H, W) -> (B, frames, C, H, W) in [-1, 1], on the CPU;
        a stochastic model draws new futures at each call."""
        if "predictor" not in type(self).capabilities:
            raise InputError(
                f"model {self.registered_name!r} draws clips from nothing and does not predict from context frames: "
                "use imsynth sample RUN"
            )
        self.check_clips(context, where="context clip", least=1)
        if frames < 1:
            raise InputError(f"--frames must be at least 1, got {frames}")
        context = context.to(next(self.parameters()).device, torch.float32)
        return self.continue_clips(context, frames, generator).cpu()

    def continue_clips(self, context: torch.Tensor, frames: int, generator) -> torch.Tensor:
        """What ``predict`` does once the context is checked and on the model's device."""
        raise NotImplementedError

    @staticmethod
    def frames_of(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float()) * 2 - 1

    def preview_rows(self, clips: torch.Tensor) -> tuple[torch.Tensor, int]:
        return clips.flatten(0, 1), clips.shape[1]

    def preview(self, dataset, count: int):
        """Clips drawn from fixed seeds, one clip per row (a model that only predicts shows predictions instead)."""
        return self.preview_rows(self.generate(count, seed=1234, progress=False))


# ---------------------------------------------------------------------------------------------------- SVG


@dataclass
class SVGConfig(ClipShape):
    context: int = 5  # frames given before the prediction starts (training: the skip frame's last index + 1)
    width: int = 32  # frame encoder/decoder base width
    hidden: int = 128  # frame feature size
    rnn: int = 256  # LSTM width
    latent_dim: int = 16  # per-frame latent z; 0 = the deterministic baseline
    beta: float = 1e-4  # KL weight (the paper's, against a per-pixel mean reconstruction term)
    # batch norm in the frame encoder and decoder: +0.015 best-of-20 SSIM on moving-fashion at 30 minutes and +0.029
    # on a film (Megamind.avi), but -0.027 on a fixed-camera recording (vtest.avi), where the networks with it drift
    # faster on their own predicted frames (docs/benchmarks.md, Video)
    norm: str = field(default="batch", metadata={"choices": NORMS})
    output: str = field(default="pixels", metadata={"choices": OUTPUTS})  # decoded pixels, or moved ones mixed
    cdna_start: str = field(default="even", metadata={"choices": CDNA_STARTS})
    # mirror each training clip left-right at random: measured no gain (moving-fashion -0.003, vtest.avi +0.002)
    flip: bool = False
    # weight of a structural term, 1 - SSIM of each predicted frame (11-pixel Gaussian window), beside the
    # per-pixel cross-entropy, which a blur satisfies about as well as a sharp guess: at 30 minutes on
    # moving-fashion best-of-20 SSIM 0.687 / 0.688 / 0.689 (seeds 0, 1, 2) against 0.685 / 0.680 (seeds 0, 1)
    # without, mean of 20 0.638 / 0.642 against 0.628 / 0.625, at 8% more time a step (docs/benchmarks.md, Video)
    ssim_weight: float = 1.0

    search_space: ClassVar[dict] = {
        "beta": {"low": 1e-5, "high": 1e-3, "log": True},
        "ssim_weight": {"choices": [0.0, 0.5, 1.0]},
        "latent_dim": {"choices": [8, 16, 32]},
        "norm": {"choices": list(NORMS)},
        "output": {"choices": list(OUTPUTS)},
        "cdna_start": {"choices": list(CDNA_STARTS)},
        "train.lr": {"low": 3e-4, "high": 3e-3, "log": True},
    }
    absent_in_older_runs: ClassVar[dict] = {"norm": "none", "flip": False, "cdna_start": "even", "ssim_weight": 0.0}

    def __post_init__(self) -> None:
        require(self.frames >= 2, f"frames must be at least 2, got {self.frames}")
        require(1 <= self.context, f"context must be at least 1, got {self.context}")
        require(self.latent_dim >= 0 and self.beta >= 0, "latent_dim and beta must be >= 0")
        require(self.ssim_weight >= 0, f"ssim_weight must be >= 0, got {self.ssim_weight}")
        require(self.width >= 4 and self.hidden >= 4 and self.rnn >= 4, "width, hidden and rnn must be >= 4")


VIDEO_TRAIN = {"lr": 1e-3, "batch_size": 32, "sample_every": 500, "num_samples": 6}
# svg at a fixed CPU budget: more, smaller steps (batch 16: +0.010 best-of-20 SSIM over 32 at 30 minutes), and the
# raw weights: the EMA with batch-norm statistics recomputed for it scored -0.003 / +0.002 against them over 3,742
# cosine-decayed steps, so the average gains nothing here (docs/benchmarks.md, Video)
SVG_TRAIN = {**VIDEO_TRAIN, "batch_size": 16, "ema_decay": 0.0}
SVG_TINY = {"width": 4, "hidden": 8, "rnn": 8, "latent_dim": 2, "context": 2}


@register_model(
    "svg",
    description="SVG-LP: stochastic next-frame prediction with a learned prior (as measured on real recordings, a fixed "
    "camera: --set output=cdna-still --set cdna_start=copy --set ssim_weight=0; a moving one: --set output=cdna "
    "--set norm=none --set ssim_weight=0)",
    data="clips",
    train_defaults=SVG_TRAIN,
    tiny=SVG_TINY,
)
@register_model(
    "svg-det",
    description="the deterministic prediction baseline: SVG's network with no latent",
    data="clips",
    train_defaults=SVG_TRAIN,
    tiny={**SVG_TINY, "latent_dim": 0},
    latent_dim=0,
)
class SVG(VideoModel):
    config_class = SVGConfig
    capabilities = frozenset({"clips", "predictor"})

    def __init__(self, config: SVGConfig) -> None:
        super().__init__(config)
        c = config
        self.encoder = FrameEncoder(c.channels, c.image_size, c.width, c.hidden, norm=c.norm)
        masks = {"pixels": 0, "cdna": CDNA_KERNELS + 1, "cdna-still": CDNA_KERNELS + 2}[c.output]
        self.decoder = FrameDecoder(c.channels + masks, c.image_size, c.width, c.hidden, skips=True, norm=c.norm)
        if masks:  # start near copying the previous frame: kernels peaked at no motion
            copy = c.cdna_start == "copy"
            self.kernels = nn.Linear(c.hidden, CDNA_KERNELS * 2 * CDNA_SIZE)
            with torch.no_grad():
                self.kernels.weight.mul_(0.1)
                # a peak of 6 keeps 0.95 of a frame in place, and the rest blurs on every predicted frame; 9: 0.998
                peak = 9.0 if copy else 6.0
                self.kernels.bias.view(CDNA_KERNELS, 2, CDNA_SIZE).zero_()[..., CDNA_SIZE // 2] = peak
                self.decoder.ups[0].weight[:, c.channels :].zero_()
                self.decoder.ups[0].bias[c.channels :].zero_()
                if copy:  # drawn pixels start at 0.5-0.6% of the mix: a new model copies the frames it is shown
                    self.decoder.ups[0].bias[-1] = -4.0
        self.predictor = nn.ModuleList(
            [nn.Linear(c.hidden + c.latent_dim, c.rnn), nn.LSTMCell(c.rnn, c.rnn), nn.Linear(c.rnn, c.hidden)]
        )
        if c.latent_dim:
            self.posterior = GaussianLSTM(c.hidden, c.rnn, c.latent_dim)
            self.prior = GaussianLSTM(c.hidden, c.rnn, c.latent_dim)

    @property
    def context_frames(self) -> int:
        return self.config.context

    def _predict_features(self, h_prev: torch.Tensor, z: torch.Tensor | None, state):
        embed, cell, head = self.predictor
        x = h_prev if z is None else torch.cat([h_prev, z.to(h_prev)], dim=1)
        state = cell(embed(x), state)
        return torch.tanh(head(state[0])), state

    def _render(
        self, decoded: torch.Tensor, features: torch.Tensor, previous: torch.Tensor, still: torch.Tensor
    ) -> torch.Tensor:
        """Decoder output -> frame probabilities in [0, 1] (float32). ``features`` are the predicted features the
        frame was decoded from, ``previous`` the frame before it and ``still`` the skip frame (the last context
        frame once past the context), both (N, C, H, W) in [-1, 1]."""
        channels = self.config.channels
        decoded = decoded.float()
        pixels = torch.sigmoid(decoded[:, :channels])
        if self.config.output == "pixels":
            return pixels
        with torch.autocast(device_type=decoded.device.type, enabled=False):
            taps = self.kernels(features.float()).view(-1, CDNA_KERNELS, 2, CDNA_SIZE).softmax(dim=-1)
            across = band_matrix(taps[:, :, 0], previous.shape[-1])
            down = band_matrix(taps[:, :, 1], previous.shape[-2])
            # (N, C, 1, H, W) @ (N, 1, K, W, W), then (N, 1, K, H, H) @: every frame moved by its own K motions
            moved = down[:, None] @ (((previous.float() + 1) / 2)[:, :, None] @ across.transpose(-1, -2)[:, None])
        if self.config.output == "cdna-still":  # a fixed camera's background, kept from a real frame, never drifts
            moved = torch.cat([moved, ((still.float() + 1) / 2)[:, :, None]], dim=2)
        masks = decoded[:, channels:].softmax(dim=1)
        return (masks[:, None, :-1] * moved).sum(dim=2) + masks[:, -1:] * pixels

    def loss(
        self, images, labels=None, *, step=0, noise: Noise | None = None, uniform: Noise | None = None
    ) -> LossOutput:
        clips, c = images, self.config
        batch, frames = clips.shape[:2]
        context = min(c.context, frames - 1)
        if c.flip and uniform is not None:  # only in training: the engine passes its seeded draws there
            mirrored = (uniform((batch,)) < 0.5).to(clips.device).view(batch, 1, 1, 1, 1)
            clips = torch.where(mirrored, clips.flip(-1), clips)
        h, skips = self.encoder(clips.flatten(0, 1))
        h = h.unflatten(0, (batch, frames))
        skips = [s.unflatten(0, (batch, frames)) for s in skips]
        if c.latent_dim:
            eps = (
                noise((batch, frames - 1, c.latent_dim))
                if noise is not None
                else torch.randn(batch, frames - 1, c.latent_dim)
            )
            eps = eps.to(h)
        post_state = prior_state = pred_state = None
        features, kl = [], h.new_zeros(())
        for t in range(1, frames):
            z = None
            if c.latent_dim:
                mean_q, log_var_q, post_state = self.posterior(h[:, t], post_state)
                mean_p, log_var_p, prior_state = self.prior(h[:, t - 1], prior_state)
                z = mean_q + (0.5 * log_var_q).exp() * eps[:, t - 1]
                kl = kl + gaussian_kl(mean_q, log_var_q, mean_p, log_var_p).mean()
            g, pred_state = self._predict_features(h[:, t - 1], z, pred_state)
            features.append(g)
        # the skip frame: the previous frame within the context, then the last context frame (as at test time)
        source = torch.tensor([min(t - 1, context - 1) for t in range(1, frames)], device=clips.device)
        chosen = [s[:, source].flatten(0, 1) for s in skips]
        features = torch.stack(features, 1).flatten(0, 1)
        decoded = self.decoder(features, chosen)
        target = (clips[:, 1:].flatten(0, 1).float() + 1) / 2
        # cross-entropy on the logits, not squared error on sigmoid outputs: mostly black frames drive a sigmoid into
        # saturation, where squared error has no gradient left (seen: all-black predictions, gradient norm 2e-4)
        if c.output == "pixels":
            logits = decoded[:, : c.channels].float()
            recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            drawn = torch.sigmoid(logits)
        else:  # a mix of probabilities has no logits: cross-entropy on the probabilities, kept off 0 and 1
            drawn = self._render(decoded, features, clips[:, :-1].flatten(0, 1), clips[:, source].flatten(0, 1))
            recon = F.binary_cross_entropy(drawn.clamp(1e-5, 1 - 1e-5), target, reduction="none")
        recon = recon.mean(dim=(1, 2, 3)).sum() / batch
        with torch.no_grad():
            mse = (drawn - target).pow(2).mean(dim=(1, 2, 3)).sum() / batch
        loss = (recon + c.beta * kl) / (frames - 1)
        parts = {"recon": recon.detach() / (frames - 1), "mse": mse / (frames - 1), "kl": kl.detach() / (frames - 1)}
        if c.ssim_weight:
            with torch.autocast(device_type=drawn.device.type, enabled=False):
                similarity = ssim(drawn.float(), target).mean()
            loss = loss + c.ssim_weight * (1 - similarity)
            parts["ssim"] = similarity.detach()
        return LossOutput(loss, parts)

    def continue_clips(self, context: torch.Tensor, frames: int, generator) -> torch.Tensor:
        """New futures from the learned prior at each call (the deterministic variant gives the same one)."""
        c = self.config
        batch, known = context.shape[:2]
        h, skips = self.encoder(context.flatten(0, 1))
        h = h.unflatten(0, (batch, known))
        last_skips = [s.unflatten(0, (batch, known))[:, -1] for s in skips]
        previous = context[:, -1]
        post_state = prior_state = pred_state = None
        made = []
        h_prev = h[:, 0]
        for t in range(1, known + frames):
            z = None
            if c.latent_dim:
                mean_p, log_var_p, prior_state = self.prior(h_prev, prior_state)
                if t < known:  # inside the context the posterior sees the real frame
                    mean_q, log_var_q, post_state = self.posterior(h[:, t], post_state)
                    mean, log_var = mean_q, log_var_q
                else:
                    mean, log_var = mean_p, log_var_p
                eps = torch.randn(mean.shape, generator=generator).to(mean)
                z = mean + (0.5 * log_var).exp() * eps
            g, pred_state = self._predict_features(h_prev, z, pred_state)
            if t < known:
                h_prev = h[:, t]
                continue
            frame = self._render(self.decoder(g, last_skips), g, previous, context[:, -1]) * 2 - 1
            made.append(frame)
            previous = frame
            h_prev, _ = self.encoder(frame)
        return torch.stack(made, 1)

    def sample(self, count, *, labels=None, generator=None):
        raise InputError(
            f"model {self.registered_name!r} predicts from context frames and does not draw clips from nothing: "
            "use imsynth predict RUN CLIP"
        )

    def preview(self, dataset, count: int):
        """Test clips: the context, then the predicted frames, one clip per row."""
        clips = dataset.to_batch(dataset.test_images[: max(1, count)])
        context = min(self.config.context, clips.shape[1] - 1)
        future = self.predict(
            clips[:, :context], clips.shape[1] - context, generator=torch.Generator().manual_seed(1234)
        )
        return self.preview_rows(torch.cat([clips[:, :context].cpu(), future], dim=1))
