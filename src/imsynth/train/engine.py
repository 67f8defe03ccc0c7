"""The one training engine: every registered model trains here, whatever its optimisers.

``train(...)`` builds the model from typed configs, then runs a plain loop: cut a batch from in-memory
tensors, call the model's ``train_step`` with a context that owns precision, gradient averaging across
processes, clipping, learning-rate schedule and the optimiser step; update the EMA; log, sample and
checkpoint on schedule. Randomness inside a step comes from ``context.randn``, a function of (seed, step)
drawn for the *global* batch and sliced per process, so a resumed run and a 2-process run see the same
numbers as one uninterrupted process.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from .. import __version__
from ..config import to_dict
from ..data import ImageDataset, detokenize
from ..errors import CheckpointError, ConfigError, TrainingError
from ..models import GenerativeModel, Translator
from ..runtime import runs as ckpt
from ..runtime.device import resolve_precision
from ..runtime.runs import TOKENIZER
from ..runtime.tensors import save_tensor_grid
from ..runtime.train_config import TrainConfig
from . import distributed
from .curves import plot_curves
from .fid_tracking import FIDTracker
from .step import (
    SIGNAL_NAMES,
    Diverged,
    ExponentialMovingAverage,
    StepContext,
    StopSignals,
    TrainResult,
    in_layout_of,
)


class Trainer:
    def __init__(
        self,
        *,
        model: GenerativeModel,
        model_name: str,
        dataset: ImageDataset,
        run: Path,
        config: TrainConfig,
        device: torch.device,
        group: distributed.ProcessGroup,
        quiet: bool,
        callback: Callable[[int, dict], None] | None,
    ) -> None:
        self.model, self.model_name, self.dataset, self.run = model, model_name, dataset, run
        self.config, self.device, self.group, self.quiet, self.callback = config, device, group, quiet, callback
        self.precision = resolve_precision(config.precision, device)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.group_params: dict[str, list[torch.nn.Parameter]] = {}
        for name, spec in model.optimizer_groups().items():
            params = list(spec["params"])
            # fused: one kernel for the whole update (2.5% of a step on the pythae benchmark network, CPU)
            optimizer = torch.optim.AdamW(
                params,
                lr=spec.get("lr", config.lr),
                betas=tuple(spec.get("betas", config.betas)),
                weight_decay=spec.get("weight_decay", config.weight_decay),
                fused=device.type in ("cpu", "cuda"),
            )
            for param_group in optimizer.param_groups:
                param_group["base_lr"] = param_group["lr"]
            self.optimizers[name], self.group_params[name] = optimizer, params
        self.ema = (
            ExponentialMovingAverage(model, config.ema_decay, model.ema_parameter_names())
            if config.ema_decay > 0
            else None
        )
        images = dataset.train_images
        if config.batch_size % group.world_size:
            raise ConfigError(
                f"train.batch_size {config.batch_size} must be divisible by the {group.world_size} processes"
            )
        # A model may consume several batches per step (a GAN's n_critic discriminator updates)
        self.step_images = config.batch_size * model.batches_per_step
        if len(images) < self.step_images:
            raise ConfigError(
                f"train.batch_size {config.batch_size} x {model.batches_per_step} batches per step is "
                f"larger than the {len(images)} training images"
            )
        self.steps_per_epoch = len(images) // self.step_images
        self.total_steps = config.steps
        if config.epochs is not None:
            epoch_steps = max(1, int(config.epochs * self.steps_per_epoch))
            self.total_steps = min(self.total_steps or epoch_steps, epoch_steps)
        self.context = StepContext(self)
        self.step = 0
        self.last_checkpoint_step = 0
        self.elapsed_before = 0.0
        self.lr_scale = 1.0  # lowered by each guard rollback
        self.rollbacks = 0
        self.fid_tracker = FIDTracker.create(self) if config.fid_every else None
        self._permutation_epoch = -1
        self._permutation: torch.Tensor | None = None
        self.advised: set[str] = set()
        self._real_saturation: float | None = None
        if dataset.kind == "text":
            model.tokenizer = dataset.tokenizer

    def progress(self) -> float | None:
        """How far through its budget the run is: by steps when known, else by this session's wall time
        (a --minutes budget decays by the clock, so such runs are not bit-reproducible)."""
        if self.total_steps:
            return self.step / self.total_steps
        if self.config.minutes:
            return self.clock / (self.config.minutes * 60)
        return None

    # -- data ---------------------------------------------------------------------------------------
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This process's share of the global batch for ``step`` (a pure function of seed and step)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._permutation_epoch:
            generator = torch.Generator().manual_seed(self.config.seed * 7919 + epoch)
            self._permutation = torch.randperm(len(self.dataset.train_images), generator=generator)
            self._permutation_epoch = epoch
        size = self.step_images
        share = size // self.group.world_size
        start = position * size + self.group.rank * share
        index = self._permutation[start : start + share]
        images = self.dataset.to_batch(self.dataset.train_images[index]).to(self.device, non_blocking=True)
        if images.ndim == 4:
            images = images.contiguous(memory_format=self.memory_format)
        labels = self.dataset.train_labels
        return images, (labels[index].to(self.device) if labels is not None else None)

    # -- state --------------------------------------------------------------------------------------
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.ema:
            tensors.update({f"ema.{k}": v for k, v in self.ema.averages().items()})
        tensors.update({f"training.{k}": v for k, v in self.model.training_state().items()})
        meta: dict = {
            "step": self.step,
            "elapsed_seconds": self.elapsed_before + self.session_seconds(),
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "optimizers": {},
            "best": self.fid_tracker.best if self.fid_tracker else None,
        }
        for name, optimizer in self.optimizers.items():
            state = optimizer.state_dict()
            scalars = {}
            for index, entries in state["state"].items():
                for key, value in entries.items():
                    if torch.is_tensor(value):
                        tensors[f"optim.{name}.{index}.{key}"] = value
                    else:
                        scalars[f"{index}.{key}"] = value
            meta["optimizers"][name] = scalars
        tensors["rng.torch"] = torch.get_rng_state()
        return tensors, meta

    def load_state(self) -> None:
        tensors, meta = ckpt.load_state(self.run)
        source = self.run / ckpt.STATE
        ckpt.load_weights_into(self.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, source)
        self.model.load_training_state(
            {k[9:]: v.to(self.device) for k, v in tensors.items() if k.startswith("training.")}
        )
        if self.ema:
            params_by_name = dict(self.model.named_parameters())
            for name in self.ema.shadow:
                if f"ema.{name}" not in tensors:
                    raise CheckpointError(f"{source}: no EMA weights for {name}")
                self.ema.shadow[name] = in_layout_of(tensors[f"ema.{name}"].float(), params_by_name[name], self.device)
            if all(f"ema.{name}" in tensors for name in self.ema.statistics):
                for name in self.ema.statistics:
                    self.ema.statistics[name] = tensors[f"ema.{name}"].float().to(self.device)
            else:  # saved before the statistics were averaged: their average starts from the raw model's
                self.ema.restart_statistics(self.model)
        for name, optimizer in self.optimizers.items():
            state = optimizer.state_dict()
            # state index i belongs to the i-th parameter in group order (how torch numbers them)
            params = [p for group in optimizer.param_groups for p in group["params"]]
            restored: dict[int, dict] = {}
            for key, value in tensors.items():
                prefix = f"optim.{name}."
                if key.startswith(prefix):
                    index, entry = key[len(prefix) :].split(".", 1)
                    restored.setdefault(int(index), {})[entry] = in_layout_of(value, params[int(index)], self.device)
            for key, value in meta.get("optimizers", {}).get(name, {}).items():
                index, entry = key.split(".", 1)
                restored.setdefault(int(index), {})[entry] = value
            for entries in restored.values():
                if "step" in entries and torch.is_tensor(entries["step"]):
                    entries["step"] = entries["step"].cpu()  # Adam keeps its step count on the CPU
            state["state"] = restored
            optimizer.load_state_dict(state)
        if "rng.torch" in tensors:
            torch.set_rng_state(tensors["rng.torch"])
        self.step = self.last_checkpoint_step = int(meta["step"])
        self.elapsed_before = float(meta.get("elapsed_seconds", 0.0))
        self.lr_scale = float(meta.get("lr_scale", 1.0))
        self.rollbacks = int(meta.get("rollbacks", 0))
        if self.fid_tracker and meta.get("best"):
            self.fid_tracker.best = dict(meta["best"])

    def inference_weights(self) -> dict[str, torch.Tensor]:
        return self.ema.state_dict_for(self.model) if self.ema else self.model.state_dict()

    def save_checkpoint(self) -> None:
        if self.group.is_main:
            tensors, meta = self.state_tensors()
            ckpt.save_state(self.run, self.step, tensors, meta)
            if self.fid_tracker is None or self.fid_tracker.best is None:
                self.write_weights()  # with FID tracking, model.safetensors is the best checkpoint instead
            self.write_config()
        self.last_checkpoint_step = self.step
        distributed.barrier(self.group)

    def write_weights(self) -> None:
        ckpt.write_tensors(
            self.run / ckpt.WEIGHTS,
            self.inference_weights(),
            metadata={"step": str(self.step), "ema": str(bool(self.ema))},
        )

    def log_event(self, event: str, message: str, **values) -> None:
        """A line on stderr and a row in metrics.jsonl, for things a user must know about (rollbacks)."""
        if self.group.is_main:
            print(f"imsynth: {message}", file=sys.stderr, flush=True)
            ckpt.append_metrics(self.run, {"step": self.step, "event": event, "message": message, **values})

    def rollback(self, reason: str) -> None:
        """The stability guard: reload the last good checkpoint with a lower learning rate, or give up."""
        config = self.config
        if not config.guard or self.rollbacks >= config.guard_rollbacks:
            tried = f" after {self.rollbacks} rollback(s)" if config.guard else ""
            raise TrainingError(
                f"{reason}: training stopped{tried}; the last good checkpoint (step "
                f"{self.last_checkpoint_step}) is kept in {self.run}"
            )
        failed_at = self.step
        rollbacks = self.rollbacks + 1
        lr_scale = self.lr_scale * config.guard_lr_factor
        best = self.fid_tracker.best if self.fid_tracker else None
        self.load_state()
        self.rollbacks, self.lr_scale = rollbacks, lr_scale
        if self.fid_tracker:
            self.fid_tracker.best = best  # model.safetensors still holds it
        if self.group.is_main:
            ckpt.truncate_metrics(self.run, self.step)
        self.log_event(
            "rollback",
            f"guard: {reason}; rolled back from step {failed_at} to step {self.step} with "
            f"learning rate x{lr_scale:g} (rollback {rollbacks} of {config.guard_rollbacks})",
            failed_at=failed_at,
            lr_scale=lr_scale,
        )

    def write_config(self) -> None:
        data = self.dataset
        if data.kind == "text" and not (self.run / TOKENIZER).exists():
            ckpt.write_text(self.run / TOKENIZER, data.tokenizer.to_str())
        ckpt.write_json(
            self.run / ckpt.CONFIG,
            {
                "imsynth": __version__,
                "model": self.model_name,
                "model_config": to_dict(self.model.config),
                "train": to_dict(self.config),
                "data": {
                    "name": data.name,
                    "image_size": data.image_size,
                    "channels": data.channels,
                    "class_names": data.class_names,
                    "train_size": len(data.train_images),
                    **({"frames": data.frames, "fps": data.fps} if data.kind == "clips" else {}),
                },
                "weights": "ema" if self.ema else "raw",
                "step": self.step,
                "best": self.fid_tracker.best if self.fid_tracker else None,
                "precision": self.precision,
                "world_size": self.group.world_size,
            },
        )

    # -- the loop -----------------------------------------------------------------------------------
    def session_seconds(self) -> float:
        return time.perf_counter() - self.started

    def save_samples(self) -> None:
        if not self.group.is_main:
            return
        self.model.eval()
        with self.ema.applied(self.model) if self.ema else contextlib.nullcontext():
            images, columns = self.model.preview(self.dataset, self.config.num_samples)
        self.model.train()
        if self.dataset.kind == "text":  # sentences, one per line
            lines = [detokenize(self.dataset.tokenizer, ids) for ids in images]
            ckpt.write_text(self.run / "samples" / f"step-{self.step:07d}.txt", "\n".join(lines) + "\n")
            return
        self.check_saturation(images)
        scale = max(1, 128 // images.shape[-1]) if images.shape[-1] < 32 else 1
        save_tensor_grid(self.run / "samples" / f"step-{self.step:07d}.png", images, nrow=columns, scale=scale)

    def check_saturation(self, images: torch.Tensor) -> None:
        """Advice when samples pile up at black and white far beyond the data (a diverging sampler or network)."""
        if isinstance(self.model, Translator) or self.dataset.kind != "images":
            return
        if self._real_saturation is None:
            real = self.dataset.train_images[:1000]
            self._real_saturation = float(((real == 0) | (real == 255)).float().mean())
        made = float((images.float().abs() >= 0.995).float().mean())
        if made > self._real_saturation + 0.25 and "samples saturate" not in self.advised:
            self.advised.add("samples saturate")
            self.log_event(
                "advice",
                f"samples saturate: {made:.0%} of their pixels are black or white, the data's {self._real_saturation:.0%}",
            )

    def run_loop(self) -> TrainResult:
        config = self.config
        self.started = time.perf_counter()
        self.clock = 0.0  # session seconds as rank 0 saw them at the last sync
        total = self.total_steps
        bar = None
        if self.group.is_main and not self.quiet and sys.stderr.isatty():
            bar = tqdm(total=total, initial=self.step, desc=f"train {self.model_name}", unit="step", dynamic_ncols=True)
        images_done, window_start, speed = 0, time.perf_counter(), 0.0
        last: dict = {}
        # what train_step reported, each key at its latest value: a term computed every few steps (lazy R1, every
        # 16th) would otherwise reach the log (every 50th) only when the two happen to meet, for R1 never
        reported: dict = {}
        stopped_by = "steps"
        self.model.train()
        if config.guard and self.step == 0 and self.last_checkpoint_step == 0:
            self.save_checkpoint()  # something to roll back to before the first scheduled checkpoint
        stop = StopSignals(self.group.is_main)
        received = None
        try:
            while True:
                received = stop.received
                if self.group.distributed:  # every rank must stop at the same step: rank 0's signal decides
                    received = int(distributed.shared_value(float(received or 0), self.group)) or None
                if received:
                    stopped_by = SIGNAL_NAMES[received]
                    break
                if total is not None and self.step >= total:
                    stopped_by = "steps" if config.steps and self.step >= config.steps else "epochs"
                    break
                if config.minutes:
                    # Processes must agree on when to stop (a lone rank would hang in all-reduce): the clock is
                    # rank 0's, shared every log_every steps under torchrun and read every step otherwise.
                    if not self.group.distributed or self.step % config.log_every == 0:
                        self.clock = distributed.shared_value(self.session_seconds(), self.group)
                    if self.clock >= config.minutes * 60:
                        stopped_by = "minutes"
                        break
                images, labels = self.batch(self.step)
                self.context.begin(self.step)
                try:
                    reported.update(self.model.train_step(images, labels, self.context))
                except Diverged as problem:
                    self.rollback(str(problem))
                    if bar is not None:
                        bar.n = self.step
                    continue
                if self.ema:
                    self.ema.update(self.model, self.step)
                self.step += 1
                images_done += self.step_images
                if self.step % config.log_every == 0 or self.step == 1:
                    now = time.perf_counter()
                    speed = images_done / max(1e-9, now - window_start)
                    images_done, window_start = 0, now
                    context = self.context
                    several = len(context.group_losses) > 1
                    last = {
                        "step": self.step,
                        **{k: float(v) for k, v in reported.items()},
                        **{f"loss_{k}": v for k, v in context.group_losses.items() if several},
                        **{f"grad_norm_{k}": v for k, v in context.grad_norms.items()},
                        "lr": self.optimizers[next(iter(self.optimizers))].param_groups[0]["lr"],
                        "img_per_s": speed,
                        "time": self.elapsed_before + self.session_seconds(),
                    }
                    if self.group.is_main:
                        ckpt.append_metrics(self.run, last)
                    if bar is not None:
                        bar.set_postfix(loss=f"{last.get('loss', float('nan')):.4g}", img_s=f"{speed:.0f}")
                    advice = self.model.advice(last, self.step)
                    if advice and advice.split(":")[0] not in self.advised:  # once per kind, whatever the numbers
                        self.advised.add(advice.split(":")[0])
                        self.log_event("advice", advice)
                    problem = self.model.health(last)
                    # every rank must take the same branch: rank 0's verdict decides
                    if distributed.shared_value(1.0 if problem else 0.0, self.group) > 0:
                        self.rollback(problem or "collapse signalled by rank 0")
                        continue
                if bar is not None:
                    bar.update(1)
                if self.step % config.sample_every == 0:
                    self.save_samples()
                if self.fid_tracker and self.step % config.fid_every == 0:
                    self.fid_tracker.measure()
                if self.step % config.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.callback is not None:
                    self.callback(self.step, last)
            if not received and self.fid_tracker and self.step % config.fid_every != 0:
                self.fid_tracker.measure()
            if self.step != self.last_checkpoint_step:
                self.save_checkpoint()
            if not received and self.step % config.sample_every != 0:
                self.save_samples()
            if self.group.is_main:
                plot_curves(self.run)
        finally:
            stop.restore()
            if bar is not None:
                bar.close()
        return TrainResult(self.run, self.step, speed, last, stopped_by, received)
