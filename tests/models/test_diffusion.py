import dataclasses
import math

import pytest
import torch
from torch import nn

from imsynth.errors import ConfigError, InputError
from imsynth.models import build_model, fit_config_to_data, get_entry
from imsynth.models.diffusion import repaint_moves
from imsynth.models.samplers import DDIMSampler, DDPMSampler, NoiseSchedule, make_sampler, respaced_timesteps
from imsynth.models.unet import GroupNorm, UNet, default_multipliers


def tiny_diffusion(name="ddpm", *, size=8, classes=10, network=None, **overrides):
    config = fit_config_to_data(
        get_entry(name).default_config(), channels=1, image_size=size, num_classes=classes, dataset_size=100
    )
    config = dataclasses.replace(config, **{"width": 8, "timesteps": 100, "sample_precision": "fp32", **overrides})
    model = build_model(name, config)
    if network is not None:
        model.network = network
    return model.eval()


class Oracle(nn.Module):
    """The ideal network for a dataset of one image: its eps, v or velocity prediction is exact at every t."""

    def __init__(self, clean: torch.Tensor, schedule: NoiseSchedule, prediction: str = "eps") -> None:
        super().__init__()
        self.clean, self.schedule, self.prediction = clean, schedule, prediction
        self.anchor = nn.Parameter(torch.zeros(1))  # so the model has a device
        self.seen_labels = []

    def forward(self, x_t, t, labels=None):
        self.seen_labels.append(None if labels is None else labels.clone())
        alpha = self.schedule.signal[t].float().reshape(-1, 1, 1, 1)
        sigma = self.schedule.noise[t].float().reshape(-1, 1, 1, 1)
        if self.prediction == "edm":  # it was given c_in x~ = x_t / sqrt(sigma^2 + alpha^2 / 4)
            x_t = x_t * (sigma**2 + alpha**2 * 0.25).sqrt()
        eps = (x_t - alpha * self.clean) / sigma
        if self.prediction == "eps":
            return eps
        if self.prediction == "edm":  # F with x_0 = c_skip x~ + c_out F, sigma_data 0.5, s = sigma / alpha
            s = sigma / alpha
            skip, out = 0.25 / (s**2 + 0.25), s * 0.5 / (s**2 + 0.25).sqrt()
            return (self.clean - skip * x_t / alpha) / out
        if self.prediction == "flow":  # the straight path's velocity
            return eps - self.clean
        return alpha * eps - sigma * self.clean


def target_image(size=8, seed=3):
    return torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


@pytest.mark.parametrize("kind", ["linear", "cosine", "flow"])
def test_schedules_decrease_from_clean_to_noise(kind):
    schedule = NoiseSchedule(kind, 1000)
    signal, noise = schedule.signal, schedule.noise
    assert signal.dtype == torch.float64 and signal.shape == noise.shape == (1000,)
    assert torch.all(signal[1:] < signal[:-1]) and torch.all(noise[1:] > noise[:-1])
    assert signal[0] > 0.999 and signal[-1] < 0.03 and schedule.levels(-1) == (1.0, 0.0)
    assert math.isfinite(schedule.log_snr(999)) and schedule.log_snr(-1) == math.inf
    if kind == "flow":  # the straight path: x_t = (1 - s) x_0 + s eps
        assert torch.allclose(signal + noise, torch.ones(1000, dtype=torch.float64))
    else:  # variance preserving
        assert torch.allclose(signal**2 + noise**2, torch.ones(1000, dtype=torch.float64))
    if kind == "linear":
        assert math.isclose(float(schedule.betas[0]), 1e-4, rel_tol=1e-6)
        assert math.isclose(float(schedule.betas[-1]), 0.02, rel_tol=1e-6)


def test_add_noise_and_renoise_follow_the_forward_process():
    schedule = NoiseSchedule("linear", 100)
    generator = torch.Generator().manual_seed(0)
    clean = torch.full((20000, 1), 0.5)
    noisy = schedule.add_noise(clean, torch.randn(20000, 1, generator=generator), torch.full((20000,), 40))
    alpha_bar = float(schedule.alpha_bar_at(40))
    assert abs(noisy.mean() - 0.5 * math.sqrt(alpha_bar)) < 0.02
    assert abs(noisy.var() - (1 - alpha_bar)) < 0.02
    # re-noising 40 -> 70 gives the marginal of t = 70
    later = schedule.renoise(noisy, 40, 70, torch.randn(20000, 1, generator=generator))
    alpha_bar = float(schedule.alpha_bar_at(70))
    assert abs(later.mean() - 0.5 * math.sqrt(alpha_bar)) < 0.02
    assert abs(later.var() - (1 - alpha_bar)) < 0.02


def test_respacing_visits_both_ends_in_order():
    assert respaced_timesteps(1000, 1000) == list(range(999, -1, -1))
    steps = respaced_timesteps(1000, 50)
    assert len(steps) == 50 and steps[0] == 999 and steps[-1] == 0 and steps == sorted(set(steps), reverse=True)
    assert respaced_timesteps(1000, 1) == [999]
    sampler = DDIMSampler(NoiseSchedule("linear", 1000), 50)
    assert sampler.timesteps[-1] == (0, -1) and len(sampler.timesteps) == 50
    for bad in (0, 1001):
        with pytest.raises(InputError, match="between 1 and the 1000 training timesteps"):
            respaced_timesteps(1000, bad)


@pytest.mark.parametrize(
    "schedule,prediction",
    [("linear", "eps"), ("cosine", "v"), ("flow", "flow"), ("flow", "v"), ("cosine", "flow"), ("cosine", "edm")],
)
@pytest.mark.parametrize(
    "sampler,steps",
    [("ddpm", 100), ("ddpm", 7), ("ddim", 20), ("ddim", 1), ("dpm++2m", 5), ("unipc", 5), ("euler", 4), ("heun", 3)],
)
def test_every_sampler_lands_on_the_data_with_an_ideal_network(schedule, prediction, sampler, steps):
    clean = target_image()
    model = tiny_diffusion(schedule=schedule, prediction=prediction, clip_denoised=False)
    model.network = Oracle(clean, model.schedule, prediction)
    images = model.sample(3, sampler=sampler, steps=steps, generator=torch.Generator().manual_seed(1))
    assert images.shape == (3, 1, 8, 8)
    assert (images - clean).abs().max() < 1e-3  # float32: one DDIM step from t = T-1 divides by sqrt(abar) ~ 0.02


def test_sampler_swap_on_a_real_network_gives_finite_images_of_the_right_shape():
    torch.manual_seed(0)
    model = tiny_diffusion(size=8)
    for name, options in [("ddpm", {}), ("ddim", {"eta": 0.0}), ("ddim", {"eta": 1.0})]:
        images = model.sample(4, sampler=name, steps=5, generator=torch.Generator().manual_seed(0), **options)
        assert images.shape == (4, 1, 8, 8) and torch.isfinite(images).all()
        assert images.min() >= -1 and images.max() <= 1


def test_ddim_with_eta_zero_is_deterministic_and_eta_one_is_not():
    model = tiny_diffusion()
    noise = torch.randn(2, 64, generator=torch.Generator().manual_seed(5))
    a = model.sample(
        2, sampler="ddim", steps=6, eta=0.0, initial_noise=noise, generator=torch.Generator().manual_seed(1)
    )
    b = model.sample(
        2, sampler="ddim", steps=6, eta=0.0, initial_noise=noise, generator=torch.Generator().manual_seed(2)
    )
    assert torch.equal(a, b)  # eta = 0: the generator's state does not matter, only x_T
    same_seed = [
        model.sample(
            2, sampler="ddim", steps=6, eta=1.0, initial_noise=noise, generator=torch.Generator().manual_seed(1)
        )
        for _ in range(2)
    ]
    assert torch.equal(*same_seed)
    other = model.sample(
        2, sampler="ddim", steps=6, eta=1.0, initial_noise=noise, generator=torch.Generator().manual_seed(2)
    )
    assert not torch.equal(same_seed[0], other)


def test_ddim_with_eta_one_has_the_ddpm_posterior_variance():
    schedule = NoiseSchedule("linear", 100)
    ddim, ddpm = DDIMSampler(schedule, 10, eta=1.0), DDPMSampler(schedule, 10)
    x_t = torch.randn(4000, 1, generator=torch.Generator().manual_seed(0))
    clean = torch.zeros_like(x_t)
    alpha_bar = float(schedule.alpha_bar_at(66))
    eps = x_t / math.sqrt(1 - alpha_bar)  # consistent with clean = 0
    zero = torch.zeros_like(x_t)
    # with the same x_0 and eps, the deterministic parts agree and the noise scales agree
    assert torch.allclose(ddim.step(x_t, 66, 55, clean, eps, zero), ddpm.step(x_t, 66, 55, clean, eps, zero), atol=1e-5)
    one = torch.ones_like(x_t)
    spread_ddim = ddim.step(x_t, 66, 55, clean, eps, one) - ddim.step(x_t, 66, 55, clean, eps, zero)
    spread_ddpm = ddpm.step(x_t, 66, 55, clean, eps, one) - ddpm.step(x_t, 66, 55, clean, eps, zero)
    assert torch.allclose(spread_ddim, spread_ddpm, atol=1e-6)


def test_classifier_free_guidance_extrapolates_from_unconditional_to_conditional():
    class LabelNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.anchor = nn.Parameter(torch.zeros(1))

        def forward(self, x_t, t, labels):
            return torch.zeros_like(x_t) + labels.float().reshape(-1, 1, 1, 1)  # "no class" = 10

    model = tiny_diffusion("ddpm-cond", network=LabelNet(), clip_denoised=False, prediction="eps")
    x_t = torch.zeros(2, 1, 8, 8)
    labels = torch.tensor([2, 7])
    for scale in (0.0, 1.0, 3.0):
        _, eps = model.estimate(x_t, 50, labels, scale)
        expected = 10 + scale * (labels.float() - 10)
        assert torch.allclose(eps[:, 0, 0, 0], expected)


def test_label_dropout_hands_the_no_class_token_to_the_network():
    recorder = Oracle(target_image(), NoiseSchedule("linear", 100))
    for dropout, expect_dropped in ((0.0, 0), (0.999, 64)):
        model = tiny_diffusion("ddpm-cond", network=recorder, label_dropout=dropout)
        recorder.seen_labels.clear()
        model.loss(torch.zeros(64, 1, 8, 8), torch.arange(64) % 10, uniform=lambda shape: torch.rand(shape) * 0.99)
        (seen,) = recorder.seen_labels
        dropped = int((seen == 10).sum())
        assert dropped == expect_dropped if dropout == 0 else dropped >= 60


def test_guidance_and_labels_are_checked():
    unconditional = tiny_diffusion()
    with pytest.raises(InputError, match="guidance needs a class-conditional run"):
        unconditional.sample(1, guidance=2.0, steps=2)
    conditional = tiny_diffusion("ddpm-cond")
    with pytest.raises(InputError, match="class must be in 0..9"):
        conditional.sample(1, labels=torch.tensor([10]), steps=2)
    with pytest.raises(InputError, match="guidance must be a finite number"):
        conditional.sample(1, guidance=float("nan"), steps=2)
    with pytest.raises(InputError, match="unknown sampler 'lms'; valid: ddpm, ddim, dpm\\+\\+2m, unipc, euler, heun"):
        make_sampler("lms", unconditional.schedule, 10)
    with pytest.raises(InputError, match="--eta does not apply to sampler 'ddpm'"):
        unconditional.sample(1, sampler="ddpm", eta=0.5, steps=2)
    with pytest.raises(ConfigError, match="sample_steps"):
        tiny_diffusion(sample_steps=101)


def test_repaint_schedule_ends_clean_and_resamples_each_segment():
    moves = repaint_moves(20, 5, 3)
    levels = 20 + torch.tensor(moves).cumsum(0)
    assert int(levels[-1]) == 0 and int(levels.min()) == 0 and int(levels.max()) <= 20
    # 20 reverse steps plus (3 - 1) jumps of 5 up and back down for each of the segments starting at 0, 5, 10
    assert moves.count(-1) == 20 + 3 * 2 * 5 and moves.count(+1) == 3 * 2 * 5
    assert repaint_moves(10, 4, 1) == [-1] * 10


@pytest.mark.parametrize("resamplings", [1, 3])
def test_repaint_keeps_known_pixels_exactly_and_fills_the_hole_from_the_model(resamplings):
    clean = target_image()
    model = tiny_diffusion(clip_denoised=False)
    model.network = Oracle(clean, model.schedule)
    image = clean.clone()
    hole = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    hole[..., 2:6, 1:5] = True
    image[hole] = 0.9  # garbage in the hole must not matter
    filled = model.inpaint(
        image, hole, steps=20, jump_length=5, resamplings=resamplings, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(filled[~hole.expand_as(filled)], image[~hole.expand_as(image)])
    assert (filled - clean).abs().max() < 1e-3  # the ideal network knows the hole's content


@pytest.mark.parametrize("size,levels", [(8, 2), (28, 3), (32, 3), (64, 4)])
def test_unet_maps_images_to_the_same_shape_at_each_size(size, levels):
    assert len(default_multipliers(size)) == levels
    net = UNet(channels=3, image_size=size, width=8, num_classes=5)
    x = torch.randn(2, 3, size, size)
    out = net(x, torch.tensor([0, 999]), torch.tensor([1, 5]))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # zero-initialised head: starts by predicting zero
    with torch.no_grad():
        net.head[-1].weight.normal_()
    out = net(x, torch.tensor([0, 999]), torch.tensor([1, 5]))
    assert out.abs().sum() > 0 and out.shape == x.shape


def test_fast_group_norm_matches_pytorch_on_channels_last_input():
    norm = GroupNorm(4, 16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = (torch.randn(3, 16, 7, 7) * 2 + 1).contiguous(memory_format=torch.channels_last)
    fast = norm(x)
    assert fast.is_contiguous(memory_format=torch.channels_last)
    reference = nn.functional.group_norm(x.contiguous(), 4, norm.weight, norm.bias, norm.eps)
    assert torch.allclose(fast, reference, atol=1e-4)
    x.requires_grad_(True)
    norm(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "name,options", [("ddpm", {}), ("flow", {}), ("ddpm", {"prediction": "edm", "noise_levels": "edm"})]
)
def test_training_on_one_image_lowers_the_loss_and_brings_samples_to_it(name, options):
    torch.manual_seed(0)
    model = tiny_diffusion(name, dropout=0.0, **options).train()
    images = target_image().expand(16, -1, -1, -1)

    def sample_error():
        model.eval()
        made = model.sample(8, sampler="dpm++2m", steps=10, generator=torch.Generator().manual_seed(4))
        model.train()
        return float((made - images[:1]).abs().mean())

    error_before = sample_error()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)

    def loss():
        return model.loss(
            images,
            uniform=lambda s: torch.rand(s, generator=generator),
            noise=lambda s: torch.randn(s, generator=generator),
        ).loss

    with torch.no_grad():
        before = sum(float(loss()) for _ in range(5)) / 5
    for _ in range(150):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    with torch.no_grad():
        after = sum(float(loss()) for _ in range(5)) / 5
    assert after < 0.5 * before, (before, after)
    error_after = sample_error()
    assert error_after < 0.5 * error_before, (error_before, error_after)


def _train_ddpm(tmp_path, **train_overrides):
    from imsynth.data import load_dataset
    from imsynth.models import config_for_dataset
    from imsynth.train import train

    data = load_dataset("digits", limit=256)
    entry = get_entry("ddpm")
    config = dataclasses.replace(
        config_for_dataset(entry.default_config(), data), width=8, heads=1, timesteps=50, sample_steps=5, stall_after=60
    )
    train_config = dataclasses.replace(
        entry.default_train_config(),
        steps=100,
        batch_size=32,
        log_every=10,
        fid_every=0,
        sample_every=1000,
        warmup_steps=0,
        **train_overrides,
    )
    train("ddpm", data, tmp_path / "run", model_config=config, train_config=train_config, quiet=True)
    from imsynth.runtime import runs

    return [row for row in runs.read_metrics(tmp_path / "run") if row.get("event") == "advice"]


def test_a_loss_that_stops_falling_is_reported(tmp_path):
    """Injected failure: a learning rate of 1e-9 leaves the loss where it started; a healthy one is silent."""
    events = _train_ddpm(tmp_path / "stuck", lr=1e-9)
    assert len(events) == 1 and events[0]["message"].startswith("loss stopped falling") and events[0]["step"] >= 60
    assert "train.lr" in events[0]["message"]
    assert not [e for e in _train_ddpm(tmp_path / "healthy", lr=2e-3) if "loss" in e["message"]]


def test_saturated_samples_are_reported(tmp_path, monkeypatch):
    """Injected failure: samples all at +-1 (a sampler that diverged) while digits are mostly mid-grey and black."""
    from imsynth.models.diffusion import Diffusion

    monkeypatch.setattr(Diffusion, "preview", lambda self, dataset, count: (torch.sign(torch.randn(count, 1, 8, 8)), 8))
    events = _train_ddpm(tmp_path, lr=2e-3)
    saturated = [e for e in events if e["message"].startswith("samples saturate")]
    assert len(saturated) == 1 and "100% of their pixels" in saturated[0]["message"]


def test_edm_noise_levels_follow_their_log_normal():
    recorder = Oracle(target_image(), NoiseSchedule("cosine", 1000))
    seen = []
    recorder.forward = lambda x_t, t, labels=None: seen.append(t) or torch.zeros_like(x_t)
    model = tiny_diffusion(network=recorder, timesteps=1000, noise_levels="edm")
    model.loss(
        torch.zeros(4000, 1, 8, 8), noise=lambda shape: torch.randn(shape, generator=torch.Generator().manual_seed(0))
    )
    log_sigmas = model.schedule.sigmas()[seen[0]].log()
    # ln sigma ~ N(-1.2, 1.2^2), rounded to the grid (whose sigma spans 0.0064 .. 20,000, so nothing is cut off)
    assert abs(float(log_sigmas.median()) + 1.2) < 0.1 and abs(float(log_sigmas.std()) - 1.2) < 0.1
