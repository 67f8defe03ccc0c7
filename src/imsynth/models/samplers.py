"""Noise schedules and the samplers that run them backwards, one class per algorithm.

A ``NoiseSchedule`` holds the training process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) for
t = 0..T-1. A ``Sampler`` is built for a schedule and a number of steps (1..T); ``timesteps`` lists the
(t, t_prev) pairs it visits, t_prev = -1 meaning "clean image", and ``step`` takes x_t and the model's
estimate of x_0 and of the noise to x_t_prev. Any sampler works with any trained diffusion run, so they are
swapped by name (``imsynth sample RUN --sampler ddim --steps 50``).

- ``ddpm``: ancestral sampling (Ho et al. 2020) on the respaced schedule, posterior variance.
- ``ddim``: Song et al. 2021; ``eta`` = 0 deterministic, 1 the same variance as ddpm.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from ..errors import InputError
from ..tables import Table, method


class NoiseSchedule:
    """``kind`` linear (Ho et al. 2020: beta from 1e-4 to 0.02 at T = 1000, scaled for other T) or cosine
    (Nichol & Dhariwal 2021: abar_t = cos^2 of a shifted ramp, betas clipped at 0.999)."""

    KINDS = ("linear", "cosine")

    def __init__(self, kind: str = "linear", timesteps: int = 1000) -> None:
        if kind not in self.KINDS:
            raise InputError(f"unknown noise schedule {kind!r}; valid: {', '.join(self.KINDS)}")
        if timesteps < 2:
            raise InputError(f"a noise schedule needs at least 2 timesteps, got {timesteps}")
        self.kind, self.timesteps = kind, timesteps
        if kind == "linear":
            scale = 1000 / timesteps
            betas = torch.linspace(scale * 1e-4, min(0.999, scale * 0.02), timesteps, dtype=torch.float64)
        else:
            offset = 0.008
            ramp = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
            alpha_bar = torch.cos((ramp + offset) / (1 + offset) * math.pi / 2) ** 2
            betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
        self.betas = betas
        self.alpha_bar = torch.cumprod(1 - betas, dim=0)  # float64: the products lose digits in float32

    def alpha_bar_at(self, t: torch.Tensor | int) -> torch.Tensor:
        """abar_t as float64, with abar_{-1} = 1 (the clean image)."""
        t = torch.as_tensor(t, dtype=torch.int64)
        padded = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar])
        return padded[t + 1]

    def add_noise(self, clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, t per image (B,)."""
        alpha_bar = _per_image(self.alpha_bar_at(t.cpu()), clean)
        return alpha_bar.sqrt() * clean + (1 - alpha_bar).sqrt() * noise

    def renoise(self, x_prev: torch.Tensor, t_prev: int, t: int, noise: torch.Tensor) -> torch.Tensor:
        """Forward from x_{t_prev} to x_t (t > t_prev): q(x_t | x_t_prev) = N(sqrt(abar_t/abar_prev) x, (1 - ratio) I)."""
        ratio = float(self.alpha_bar_at(t) / self.alpha_bar_at(t_prev))
        return math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio) * noise


def _per_image(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(device=like.device, dtype=torch.float32).reshape(-1, *([1] * (like.dim() - 1)))


def respaced_timesteps(timesteps: int, steps: int) -> list[int]:
    """``steps`` timesteps from T-1 down to 0, evenly spaced (both ends included)."""
    if not 1 <= steps <= timesteps:
        raise InputError(f"--steps must be between 1 and the {timesteps} training timesteps, got {steps}")
    if steps == 1:
        return [timesteps - 1]
    return [round((timesteps - 1) * (1 - i / (steps - 1))) for i in range(steps)]


class Sampler:
    """Reverse process on a respaced schedule. Subclasses implement ``step``."""

    name: ClassVar[str] = ""
    stochastic: ClassVar[bool] = True

    def __init__(self, schedule: NoiseSchedule, steps: int) -> None:
        self.schedule, self.steps = schedule, steps
        visited = respaced_timesteps(schedule.timesteps, steps)
        self.timesteps: list[tuple[int, int]] = list(zip(visited, visited[1:] + [-1]))

    def step(
        self,
        x_t: torch.Tensor,
        t: int,
        t_prev: int,
        predicted_clean: torch.Tensor,
        predicted_noise: torch.Tensor,
        noise: torch.Tensor | None,
    ) -> torch.Tensor:
        """x_t -> x_t_prev given the model's x_0 and noise estimates; ``noise`` is N(0, I) for stochastic steps."""
        raise NotImplementedError

    def starting_at(self, start: int, steps: int) -> Sampler:
        """This sampler over ``steps`` timesteps from ``start`` down to 0 (purification starts mid-way)."""
        if not 0 <= start < self.schedule.timesteps:
            raise InputError(f"start timestep must be in [0, {self.schedule.timesteps}), got {start}")
        visited = respaced_timesteps(start + 1, min(steps, start + 1))
        self.timesteps = list(zip(visited, visited[1:] + [-1]))
        self.steps = len(visited)
        return self

    def needs_noise(self, t_prev: int) -> bool:
        return self.stochastic and t_prev >= 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps})"


class DDPMSampler(Sampler):
    """Ancestral sampling from the posterior q(x_t_prev | x_t, x_0) with the model's x_0."""

    name = "ddpm"

    def step(self, x_t, t, t_prev, predicted_clean, predicted_noise, noise):
        alpha_bar, alpha_bar_prev = (float(self.schedule.alpha_bar_at(s)) for s in (t, t_prev))
        beta = 1 - alpha_bar / alpha_bar_prev  # the respaced step's beta
        clean_weight = math.sqrt(alpha_bar_prev) * beta / (1 - alpha_bar)
        current_weight = math.sqrt(1 - beta) * (1 - alpha_bar_prev) / (1 - alpha_bar)
        mean = clean_weight * predicted_clean + current_weight * x_t
        if t_prev < 0:
            return mean
        variance = beta * (1 - alpha_bar_prev) / (1 - alpha_bar)
        return mean + math.sqrt(variance) * noise


class DDIMSampler(Sampler):
    """x_prev = sqrt(abar_prev) x_0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
    sigma = eta * sqrt((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev))."""

    name = "ddim"

    def __init__(self, schedule: NoiseSchedule, steps: int, *, eta: float = 0.0) -> None:
        if not 0 <= eta <= 1 or not math.isfinite(eta):
            raise InputError(f"--eta must be in [0, 1], got {eta}")
        super().__init__(schedule, steps)
        self.eta = eta

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.eta > 0

    def step(self, x_t, t, t_prev, predicted_clean, predicted_noise, noise):
        alpha_bar, alpha_bar_prev = (float(self.schedule.alpha_bar_at(s)) for s in (t, t_prev))
        sigma = self.eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev))
        direction = math.sqrt(max(0.0, 1 - alpha_bar_prev - sigma**2))
        x_prev = math.sqrt(alpha_bar_prev) * predicted_clean + direction * predicted_noise
        if sigma > 0 and t_prev >= 0:
            x_prev = x_prev + sigma * noise
        return x_prev

    def __repr__(self) -> str:
        return f"DDIMSampler(steps={self.steps}, eta={self.eta})"


def _ddpm(schedule: NoiseSchedule, steps: int) -> Sampler:
    return DDPMSampler(schedule, steps)


def _ddim(schedule: NoiseSchedule, steps: int, *, eta: float = 0.0) -> Sampler:
    return DDIMSampler(schedule, steps, eta=eta)


SAMPLERS: Table = Table("sampler")
SAMPLERS.add(method("ddpm", _ddpm, "ancestral sampling (Ho et al. 2020) on the respaced schedule"))
SAMPLERS.add(
    method(
        "ddim",
        _ddim,
        "DDIM (Song et al. 2021): deterministic at eta 0, as noisy as ddpm at eta 1",
        options={"eta": "0 deterministic .. 1 as stochastic as ddpm"},
    )
)


def make_sampler(name: str, schedule: NoiseSchedule, steps: int, *, eta: float | None = None) -> Sampler:
    """A sampler by name; ``eta`` applies to ddim only (an error for the others)."""
    options = {} if eta is None else SAMPLERS.check_options(name, {"eta": eta})
    return SAMPLERS.get(name)(schedule, steps, **options)
