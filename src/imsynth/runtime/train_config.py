"""The engine's typed config (``train.*`` keys of ``--set``), below the models so that a model's registration can
carry its own training defaults (a GAN's schedule) without importing the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError


@dataclass
class TrainConfig:
    batch_size: int = 128
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 100
    schedule: Literal["constant", "cosine"] = "cosine"
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0
    ema_decay: float = 0.999
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: bool = True
    matmul_small_convs: bool = True  # CPU: wide convolutions with <= 2x2 outputs as im2col + matmul (fastconv.py)
    # torch.compile each top-level network (weights keep their names: checkpoints and resume are unchanged). Off:
    # on this project's 2-core CPU it did not pay back (benchmarks/compile.py, two runs: 19-73 s of compilation,
    # then vae 1.00-1.03x, dcgan 0.80-0.85x, ddpm 0.95-0.99x the eager speed); kept for GPUs, not measured here
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    steps: int | None = None
    epochs: float | None = None
    minutes: float | None = None
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    num_samples: int = 64
    # Stability guard: on a non-finite loss or a collapse signal from the model (``health``), reload the last
    # good checkpoint and continue with the learning rate times guard_lr_factor, at most guard_rollbacks times.
    guard: bool = True
    guard_rollbacks: int = 3
    guard_lr_factor: float = 0.5
    # Best checkpoint by in-domain FID (0 = off): every fid_every steps, FID of fid_samples samples against
    # as many test images; model.safetensors then holds the best weights, state/ the last (for resume).
    fid_every: int = 0
    fid_samples: int = 1000

    def __post_init__(self) -> None:
        for name in ("batch_size", "log_every", "sample_every", "checkpoint_every", "num_samples", "fid_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or not 0 <= self.ema_decay < 1 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ConfigError("train: need lr > 0, 0 <= ema_decay < 1, grad_clip >= 0, warmup_steps >= 0")
        if self.guard_rollbacks < 0 or not 0 < self.guard_lr_factor <= 1 or self.fid_every < 0:
            raise ConfigError("train: need guard_rollbacks >= 0, 0 < guard_lr_factor <= 1, fid_every >= 0")
        for name in ("steps", "epochs", "minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"train.{name} must be > 0, got {value}")
