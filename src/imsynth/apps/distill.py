"""Progressive distillation (Salimans & Ho 2022): a diffusion run that samples in a few steps.

Round by round, a student (a copy of its teacher) learns to take in one deterministic DDIM step what the teacher
takes in two. From x_t on the student's grid of N steps ("trailing" spacing, which nests in the teacher's grid of
2N), the teacher's two DDIM steps t -> t_mid -> t_next give x_next; the x_0 with which one DDIM step from t lands
exactly there is the student's target, weighted by max(SNR, 1) (the paper's "truncated SNR" weighting). Each round
halves the steps, from ``start_steps`` down to ``steps``; a round's student teaches the next. The first teacher is
the run's own network under DDIM with ``start_steps`` steps, so the student can at best match that sampler.

The result is an ordinary run (ddim, trailing spacing, ``steps`` steps, in its config) that every command
accepts; its config records what it was distilled from.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import to_dict
from ..data import load_dataset
from ..errors import InputError
from ..models import MODEL_REGISTRY, load_run
from ..models.diffusion import DiffusionBase
from ..models.objectives import estimates, network_input
from ..models.samplers import DDIMSampler, trailing_timesteps
from ..runtime import runs
from ..runtime.device import autocast_context, resolve_precision
from ..runtime.tensors import to_model


def distill(
    run,
    out,
    *,
    steps: int = 4,
    start_steps: int | None = None,
    iterations: int = 400,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Distil the diffusion run ``run`` into a run at ``out`` that samples in ``steps`` DDIM steps; rounds of
    ``iterations`` batches each, halving from ``start_steps`` (default 4 x ``steps``)."""
    start_steps = 4 * steps if start_steps is None else start_steps
    if steps < 1 or iterations < 1 or batch_size < 1 or not (math.isfinite(lr) and lr > 0):
        raise InputError("--steps, --iterations and --batch-size must be >= 1 and --lr a positive number")
    rounds = math.log2(start_steps / steps) if start_steps > steps else 0
    if rounds < 1 or rounds != int(rounds):
        raise InputError(f"--start-steps must be --steps times a power of two (8, 16, ...), got {start_steps}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not empty; distill writes a new run")
    teacher, saved = load_run(run, device=device)
    if not isinstance(teacher, DiffusionBase):  # a video family's masked blocks are not distilled here
        families = ", ".join(entry.name for entry in MODEL_REGISTRY if issubclass(entry.model_class, DiffusionBase))
        raise InputError(f"{run}: distill needs an image diffusion run ({families}); this is {saved['model']}")
    config = teacher.config
    if start_steps > config.timesteps:
        raise InputError(f"--start-steps {start_steps} is beyond the run's {config.timesteps} training timesteps")
    data = load_dataset(saved["data"]["name"], image_size=config.image_size)
    images, labels = data.train_images, data.train_labels
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    student = copy.deepcopy(teacher)
    report: dict = {"run": str(run), "out": str(out), "rounds": []}
    started = time.perf_counter()
    total = int(rounds) * iterations
    with tqdm(total=total, desc="distilling", unit="batch", disable=not sys.stderr.isatty()) as bar:
        for student_steps in [start_steps // 2**k for k in range(1, int(rounds) + 1)]:
            losses = _round(teacher, student, student_steps, images, labels, iterations, batch_size, lr, generator, bar)
            report["rounds"].append(
                {
                    "teacher_steps": 2 * student_steps,
                    "student_steps": student_steps,
                    "loss_first": losses[0],
                    "loss_last": losses[1],
                }
            )
            teacher = copy.deepcopy(student).eval()
    student.eval()
    student.config = dataclasses.replace(config, sampler="ddim", sample_steps=steps, sample_spacing="trailing", eta=0.0)
    _write_run(
        student,
        saved,
        out,
        {
            "from": str(run),
            "start_steps": start_steps,
            "steps": steps,
            "iterations": iterations,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
        },
    )
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _ddim_step(model, x_t: torch.Tensor, t: int, t_next: int, labels) -> torch.Tensor:
    """One deterministic DDIM step of ``model`` (the sampler table's ddim, eta 0)."""
    clean, noise = model.estimate(x_t, t, labels)
    return DDIMSampler(model.schedule, 1).step(x_t, t, t_next, clean, noise, None)


def _round(teacher, student, steps, images, labels, iterations, batch_size, lr, generator, bar) -> tuple[float, float]:
    """One halving: ``student`` learns ``steps`` steps from ``teacher``'s 2 x ``steps``; (first, last) mean loss."""
    schedule, config = student.schedule, student.config
    coarse = trailing_timesteps(config.timesteps, steps) + [-1]
    fine = trailing_timesteps(config.timesteps, 2 * steps) + [-1]
    assert coarse[:-1] == fine[:-1:2]  # the trailing grids nest
    device = next(student.parameters()).device
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    student.train()
    teacher.eval()
    conditional = student.conditional and labels is not None
    precision = resolve_precision("auto", device)
    losses = []
    for _ in range(iterations):
        index = torch.randint(len(images), (batch_size,), generator=generator)
        given = labels[index].to(device) if labels is not None else None
        batch_labels = given if conditional else None
        with torch.no_grad():  # what the diffusion runs on: the images, or a latent family's latents of them
            clean = student.diffused(to_model(images[index]).to(device), given)
        position = int(torch.randint(steps, (1,), generator=generator))
        t, t_mid, t_next = fine[2 * position], fine[2 * position + 1], fine[2 * position + 2]
        x_t = schedule.add_noise(
            clean, torch.randn(clean.shape, generator=generator).to(device), torch.full((batch_size,), t)
        )
        with torch.no_grad():
            x_next = _ddim_step(teacher, _ddim_step(teacher, x_t, t, t_mid, batch_labels), t_mid, t_next, batch_labels)
            alpha, sigma = schedule.levels(t)
            if t_next < 0:
                target = x_next
            else:
                alpha_next, sigma_next = schedule.levels(t_next)
                ratio = sigma_next / sigma
                target = (x_next - ratio * x_t) / (alpha_next - ratio * alpha)
        timesteps = torch.full((batch_size,), t, dtype=torch.int64, device=device)
        with autocast_context(device, precision):
            output = student.network(
                network_input(config.prediction, schedule, x_t, t), timesteps, batch_labels
            ).float()
        predicted, _ = estimates(config.prediction, schedule, x_t, t, output, clip=False)
        weight = max(alpha**2 / sigma**2, 1.0)
        loss = weight * (predicted - target).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.update(1)
    span = min(50, len(losses))
    return sum(losses[:span]) / span, sum(losses[-span:]) / span


def _write_run(model, saved: dict, out: Path, distilled: dict) -> None:
    """The student as a run at ``out``, written in a temporary folder beside it and renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        runs.write_tensors(staging / runs.WEIGHTS, model.state_dict(), metadata={"distilled": str(distilled["steps"])})
        runs.write_json(
            staging / runs.CONFIG,
            {**saved, "model_config": to_dict(model.config), "weights": "raw", "distilled": distilled},
        )
        if out.exists():
            out.rmdir()  # empty: checked before training
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
