"""What a diffusion network is given and trained on, and how its output is read, for each objective: ``eps``
(Ho et al. 2020), ``v`` (Salimans & Ho 2022), ``edm`` (Karras et al. 2022's preconditioning) and ``flow`` (the
velocity of the straight path, Lipman et al. 2023). Every sampler reads a network through ``estimates``, so it
works with every objective and schedule; ``diffusion``, ``video_diffusion`` and distillation share these."""

from __future__ import annotations

import math

import torch

from .samplers import NoiseSchedule

EDM_SIGMA_DATA = 0.5  # Karras et al. 2022's data standard deviation for images in [-1, 1]
EDM_P_MEAN, EDM_P_STD = -1.2, 1.2  # their training distribution of ln sigma


def network_input(prediction: str, schedule: NoiseSchedule, x_t: torch.Tensor, t) -> torch.Tensor:
    """What the network is given for x_t at timestep ``t`` (an int, or (B,) per image): x_t itself, or for ``edm``
    c_in x~ = x_t / sqrt(sigma_t^2 + alpha_t^2 sigma_data^2), unit variance at every noise level."""
    if prediction != "edm":
        return x_t
    if isinstance(t, int):
        alpha, sigma = schedule.levels(t)
        return x_t / math.sqrt(sigma**2 + alpha**2 * EDM_SIGMA_DATA**2)
    alpha, sigma = schedule.levels_at(t, x_t)
    return x_t / (sigma**2 + alpha**2 * EDM_SIGMA_DATA**2).sqrt()


def timesteps_of_sigmas(schedule: NoiseSchedule, sigmas: torch.Tensor) -> torch.Tensor:
    """The timestep whose sigma_t / alpha_t is nearest (in log) to each of ``sigmas`` (B,)."""
    table = schedule.sigmas().log()
    return (sigmas.double().log()[:, None] - table[None]).abs().argmin(dim=1)


def training_target(prediction: str, schedule: NoiseSchedule, clean, eps, t: torch.Tensor) -> torch.Tensor:
    """What the network learns to output for x_t = alpha_t ``clean`` + sigma_t ``eps`` at timesteps ``t`` (B,): eps;
    v = alpha_t eps - sigma_t x_0; or flow's velocity eps - x_0 (the straight path's d x_t / d s)."""
    if prediction == "eps":
        return eps.float()
    if prediction == "flow":
        return eps.float() - clean.float()
    alpha, sigma = schedule.levels_at(t, clean)
    if prediction == "edm":  # F = (x_0 - c_skip x~) / c_out, x~ = x_t / alpha = x_0 + s eps, s = sigma / alpha
        s = sigma / alpha
        return (s * clean.float() - EDM_SIGMA_DATA * eps.float()) / (EDM_SIGMA_DATA * (s**2 + EDM_SIGMA_DATA**2).sqrt())
    return alpha * eps.float() - sigma * clean.float()


def estimates(
    prediction: str, schedule: NoiseSchedule, x_t: torch.Tensor, t: int, output: torch.Tensor, *, clip: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The estimates (x_0, eps) at timestep ``t`` from the network's ``output`` (eps, v or velocity), on any
    schedule; ``clip`` clamps x_0 to [-1, 1] and makes eps agree with it."""
    alpha, sigma = schedule.levels(t)
    if prediction == "eps":
        noise, clean = output, (x_t - sigma * output) / alpha
    elif prediction == "v":
        norm = alpha**2 + sigma**2  # 1 on a variance-preserving schedule
        clean, noise = (alpha * x_t - sigma * output) / norm, (sigma * x_t + alpha * output) / norm
    elif prediction == "edm":  # x_0 = c_skip x~ + c_out F
        s, data = sigma / alpha, EDM_SIGMA_DATA
        skip, out = data**2 / (s**2 + data**2), s * data / math.sqrt(s**2 + data**2)
        clean = skip * x_t / alpha + out * output
        noise = (x_t - alpha * clean) / sigma
    else:
        clean, noise = (x_t - sigma * output) / (alpha + sigma), (x_t + alpha * output) / (alpha + sigma)
    if clip:
        clean = clean.clamp(-1, 1)
        noise = (x_t - alpha * clean) / sigma
    return clean, noise
