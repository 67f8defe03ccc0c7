"""What one training step and one stop need: the step context a model's ``train_step`` is given, the EMA,
the learning-rate schedule, per-step seeds and the signal handling that ends a run with a checkpoint."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import Aborted
from ..runtime.device import autocast_context
from ..runtime.train_config import TrainConfig
from . import distributed

if TYPE_CHECKING:  # the trainer owns a context; the context reads the trainer's optimisers and scaler
    from .engine import Trainer

SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


@dataclass
class TrainResult:
    run: Path
    step: int
    images_per_second: float
    last_metrics: dict
    stopped_by: str  # steps, epochs, minutes, SIGINT or SIGTERM
    signal: int | None = None  # the signal that stopped the run, if one did


def averaged_statistics(model: torch.nn.Module, names: set[str] | None) -> dict[str, torch.Tensor]:
    """The running statistics of the normalisation layers under the averaged parameters, by state-dict name.

    Averaged weights run with the statistics they were averaged beside: a batch-norm layer's running mean and
    variance were gathered under the raw weights of recent steps, so saving them next to averaged weights pairs
    each weight with another's statistics (measured in svg: 0.007-0.010 best-of-20 SSIM lost). A layer belongs to
    the average when its top-level module does (a GAN averages ``generator.*`` and its class-conditional batch
    norms, which have no affine parameters of their own). Only the floating-point statistics: the batch counter
    stays the raw model's, and other buffers (a spectral norm's power-iteration vectors) are not averages of
    anything, so they are never lerped."""
    tops = None if names is None else {name.split(".", 1)[0] for name in names}
    statistics = {}
    for prefix, module in model.named_modules():
        if not isinstance(module, torch.nn.modules.batchnorm._NormBase) or not module.track_running_stats:
            continue
        if tops is not None and prefix.split(".", 1)[0] not in tops:
            continue
        for buffer in ("running_mean", "running_var"):
            value = getattr(module, buffer)
            if value is not None:
                statistics[f"{prefix}.{buffer}"] = value
    return statistics


class ExponentialMovingAverage:
    """EMA of parameters and of the normalisation statistics that go with them, with the usual warm-up of the
    decay for early steps.

    ``names`` limits it to some parameters (a GAN averages its generator only)."""

    def __init__(self, model: torch.nn.Module, decay: float, names: set[str] | None = None) -> None:
        self.decay = decay
        self.names = names
        self.shadow = {
            name: p.detach().clone().float() for name, p in model.named_parameters() if names is None or name in names
        }
        self.restart_statistics(model)

    def restart_statistics(self, model: torch.nn.Module) -> None:
        """Start the statistics' average from the model's (at the start, and for a run saved before they were
        averaged)."""
        self.statistics = {
            name: b.detach().clone().float() for name, b in averaged_statistics(model, self.names).items()
        }

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        names = list(self.shadow)
        params = dict(model.named_parameters())
        torch._foreach_lerp_([self.shadow[n] for n in names], [params[n].detach().float() for n in names], 1 - decay)
        if self.statistics:
            current = averaged_statistics(model, self.names)
            names = list(self.statistics)
            torch._foreach_lerp_(
                [self.statistics[n] for n in names], [current[n].detach().float() for n in names], 1 - decay
            )

    def averages(self) -> dict[str, torch.Tensor]:
        return {**self.shadow, **self.statistics}

    def state_dict_for(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The model's state dict with EMA values in place of the parameters and their statistics."""
        averaged = self.averages()
        state = model.state_dict()
        return {name: (averaged[name].to(t.dtype) if name in averaged else t) for name, t in state.items()}

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module):
        tensors = {name: p for name, p in model.named_parameters() if name in self.shadow}
        tensors.update(averaged_statistics(model, self.names))
        backup = {name: t.detach().clone() for name, t in tensors.items()}
        averaged = self.averages()
        with torch.no_grad():
            for name, t in tensors.items():
                t.copy_(averaged[name])
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, t in tensors.items():
                    t.copy_(backup[name])


def learning_rate_factor(config: TrainConfig, step: int, progress: float | None) -> float:
    """Linear warm-up, then constant or cosine decay to ``min_lr_ratio`` over ``progress`` in [0, 1]."""
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    if config.schedule == "constant" or progress is None:
        return warm
    progress = min(1.0, max(0.0, progress))
    return warm * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def step_seed(seed: int, step: int, call: int) -> int:
    return (seed * 1_000_003 + step * 9_973 + call) % (2**63 - 1)


def in_layout_of(value: torch.Tensor, param: torch.Tensor, device: torch.device) -> torch.Tensor:
    """An optimiser state tensor restored in its parameter's memory layout. Safetensors gives it back contiguous;
    the fused AdamW step pairs moments and parameters by memory position, so a contiguous moment beside a
    channels_last parameter would be applied to the wrong elements (seen: resumed runs drifting by 0.009)."""
    if value.shape != param.shape:
        return value.to(device)
    return torch.empty_like(param, dtype=value.dtype, device=device).copy_(value)


class Diverged(Exception):
    """Raised inside a step when training went wrong; the guard rolls back or stops with TrainingError."""


class StepContext:
    """What a model's ``train_step`` may use: noise, autocast, and ``backward_step`` per optimiser group."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.step = 0
        self._calls = 0
        self.group_losses: dict[str, float] = {}
        self.grad_norms: dict[str, float] = {}

    def begin(self, step: int) -> None:
        self.step, self._calls = step, 0
        self.group_losses, self.grad_norms = {}, {}

    def uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Uniform [0, 1) noise with the same (seed, step) keying as ``randn``."""
        return torch.special.ndtr(self.randn(shape)).clamp(max=1 - 1e-7)

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal noise for this process's rows of the global batch (shape[0] = local batch)."""
        trainer = self.trainer
        self._calls += 1
        generator = torch.Generator().manual_seed(step_seed(trainer.config.seed, self.step, self._calls))
        world, rank = trainer.group.world_size, trainer.group.rank
        full = torch.randn((shape[0] * world, *shape[1:]), generator=generator)
        return full[rank * shape[0] : (rank + 1) * shape[0]].to(trainer.device)

    def autocast(self):
        return autocast_context(self.trainer.device, self.trainer.precision)

    def backward_step(self, group: str, loss: torch.Tensor) -> None:
        trainer = self.trainer
        optimizer = trainer.optimizers[group]
        params = trainer.group_params[group]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        mean_loss = distributed.average_gradients(params, loss, trainer.group)
        if not torch.isfinite(mean_loss):
            raise Diverged(f"non-finite {group} loss at step {self.step}")
        clip = trainer.config.grad_clip if trainer.config.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        self.grad_norms[group] = float(norm)
        if not math.isfinite(self.grad_norms[group]):
            raise Diverged(f"non-finite {group} gradient at step {self.step}")
        factor = learning_rate_factor(trainer.config, self.step, trainer.progress()) * trainer.lr_scale
        for param_group in optimizer.param_groups:
            param_group["lr"] = param_group["base_lr"] * factor
        optimizer.step()
        self.group_losses[group] = float(mean_loss)


class StopSignals:
    """SIGINT/SIGTERM during training: the first finishes the current step and stops the loop (which then writes a
    complete checkpoint); a second one aborts at once, leaving the last complete checkpoint as it was."""

    def __init__(self, announce: bool) -> None:
        self.received: int | None = None
        self.announce = announce
        self.previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_NAMES:
                self.previous[signum] = signal.signal(signum, self.handle)

    def handle(self, signum: int, frame) -> None:
        if self.received is not None:
            raise Aborted(
                f"{SIGNAL_NAMES[signum]} again: aborted at once; the last complete checkpoint is kept", signum=signum
            )
        self.received = signum
        if self.announce:
            print(
                f"imsynth: {SIGNAL_NAMES[signum]}: finishing this step, then writing a checkpoint "
                "(send it again to abort at once)",
                file=sys.stderr,
                flush=True,
            )

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
