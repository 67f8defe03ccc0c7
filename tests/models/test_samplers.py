"""The ODE samplers against the exact solution: for Gaussian data the ideal denoiser and the probability-flow
ODE's end point are known in closed form, so each solver's error and its order of convergence are measured."""

import dataclasses
import math

import pytest
import torch

from imsynth.errors import InputError
from imsynth.models import build_model, fit_config_to_data, get_entry, sampling_defaults
from imsynth.models.samplers import SAMPLERS, NoiseSchedule, karras_timesteps, make_sampler


@pytest.fixture
def tiny_ddpm():
    config = fit_config_to_data(
        get_entry("ddpm").default_config(), channels=1, image_size=8, num_classes=10, dataset_size=100
    )
    return build_model("ddpm", dataclasses.replace(config, width=8, timesteps=100)).eval()


MEAN, SPREAD = 0.3, 0.5  # data: every pixel N(0.3, 0.5^2), independent
SCHEDULE = NoiseSchedule("cosine", 1000)


def gaussian_estimate(calls: list | None = None, schedule: NoiseSchedule = SCHEDULE):
    def estimate(x_t, t):
        if calls is not None:
            calls.append(t)
        alpha, sigma = schedule.levels(t)
        clean = MEAN + alpha * SPREAD**2 / (alpha**2 * SPREAD**2 + sigma**2) * (x_t - alpha * MEAN)
        return clean, (x_t - alpha * clean) / sigma

    return estimate


def ode_error(name: str, steps: int, schedule: NoiseSchedule = SCHEDULE) -> float:
    """Mean |x_0 - exact| from 4,000 starting points: along the ODE x_t = alpha mu + sqrt(alpha^2 s^2 + sigma^2) z
    (on any schedule, variance preserving or the straight flow path)."""
    x_T = torch.randn(4000, 1, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    alpha, sigma = schedule.levels(schedule.timesteps - 1)
    exact = MEAN + SPREAD * (x_T - alpha * MEAN) / math.sqrt(alpha**2 * SPREAD**2 + sigma**2)
    estimate = gaussian_estimate(schedule=schedule)
    result = make_sampler(name, schedule, steps).run(x_T.clone(), estimate, torch.randn_like)
    return float((result - exact).abs().mean())


@pytest.mark.parametrize("kind,few,more", [("cosine", 10, 20), ("flow", 40, 80)])
def test_second_order_solvers_converge_faster_than_ddim_at_the_same_evaluations(kind, few, more):
    # on the flow path the error is not yet in its asymptotic regime at 10-20 steps (it even rises from 10 to
    # 20: the algorithm, not a slip; the step is diffusers', matched to it on the VP schedule), hence more steps
    schedule = NoiseSchedule(kind, 1000)
    ddim = {steps: ode_error("ddim", steps, schedule) for steps in (few, more)}
    assert 1.6 < ddim[few] / ddim[more] < 2.5  # first order: twice the steps, half the error
    for name in ("dpm++2m", "unipc"):
        error = {steps: ode_error(name, steps, schedule) for steps in (few, more)}
        assert error[few] / error[more] > 2.8, name  # second order: a quarter, give or take
        assert error[few] < ddim[few] / 2.5 and error[more] < ddim[more] / 5, name


def test_heun_is_second_order_on_the_edm_grid_where_euler_is_first():
    euler = {steps: ode_error("euler", steps) for steps in (20, 40)}
    heun = {steps: ode_error("heun", steps) for steps in (20, 40)}
    assert 1.6 < euler[20] / euler[40] < 2.5
    assert heun[20] / heun[40] > 3
    assert heun[40] < euler[40] / 4


@pytest.mark.parametrize("name", ["ddim", "dpm++2m", "unipc", "euler", "heun"])
def test_each_run_evaluates_the_network_as_often_as_it_says_and_forgets_the_previous_run(name):
    sampler = make_sampler(name, SCHEDULE, 8)
    calls: list[int] = []
    x_T = torch.randn(16, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    first = sampler.run(x_T.clone(), gaussian_estimate(calls), torch.randn_like)
    assert len(calls) == sampler.evaluations == (2 * 8 - 1 if name == "heun" else 8)
    assert calls[0] == SCHEDULE.timesteps - 1 and sorted(set(calls), reverse=True) == [t for t, _ in sampler.timesteps]
    # a multistep history left from the first run would change the second
    assert torch.equal(first, sampler.run(x_T.clone(), gaussian_estimate(), torch.randn_like))


def test_the_edm_grid_starts_at_the_noise_caps_sigma_at_80_and_never_repeats():
    sigmas = SCHEDULE.sigmas()
    grid = karras_timesteps(SCHEDULE, 1000, 12)
    assert grid[0] == 999 and grid[-1] == 0 and len(grid) == len(set(grid))
    assert float(sigmas[grid[1]]) == pytest.approx(80, rel=0.05) and float(sigmas[999]) > 10_000
    assert grid == sorted(grid, reverse=True)
    # more steps than the schedule has distinct sigmas on the grid: fewer, never repeated, steps
    small = NoiseSchedule("cosine", 20)
    assert len(karras_timesteps(small, 20, 20)) <= 20


def test_purification_grids_start_at_the_chosen_timestep():
    for name in ("ddim", "dpm++2m", "unipc", "euler", "heun"):
        sampler = make_sampler(name, SCHEDULE, 1).starting_at(300, 6)
        assert sampler.timesteps[0][0] == 300 and sampler.timesteps[-1][1] == -1, name
        assert all(t > t_prev for t, t_prev in sampler.timesteps), name


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_steps_outside_the_schedule_are_refused_by_every_sampler(name):
    for steps in (0, 1001):
        with pytest.raises(InputError, match=f"--steps must be between 1 and the 1000 training timesteps, got {steps}"):
            make_sampler(name, SCHEDULE, steps)


def test_eta_is_refused_by_the_deterministic_solvers():
    with pytest.raises(InputError, match="--eta does not apply to sampler 'dpm\\+\\+2m'"):
        make_sampler("dpm++2m", SCHEDULE, 10, eta=0.5)


def test_sampling_defaults_apply_inside_the_block_only(tiny_ddpm):
    before = tiny_ddpm.config
    with sampling_defaults(tiny_ddpm, "dpm++2m", 7):
        chosen = tiny_ddpm.sampler()
        assert (chosen.name, chosen.steps) == ("dpm++2m", 7)
    assert tiny_ddpm.config is before and (tiny_ddpm.sampler().name, tiny_ddpm.sampler().steps) == ("unipc", 10)
    with pytest.raises(InputError, match="--steps must be between 1 and the 100"):
        with sampling_defaults(tiny_ddpm, "heun", 500):
            pass
    assert tiny_ddpm.config is before
