import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from imsynth.errors import ConfigError, InputError
from imsynth.models import build_model, config_for_dataset, get_entry, load_run
from imsynth.models.gan import GAN, GAN_LOSSES, diff_augment
from imsynth.runtime import runs as ckpt
from imsynth.train import train
from tests.helpers import tiny_dataset

FAST = dict(
    batch_size=8,
    precision="fp32",
    channels_last=False,
    log_every=1,
    sample_every=1000,
    checkpoint_every=4,
    num_samples=4,
    fid_every=0,
)


def tiny_gan_config(name="dcgan", data=None, **overrides):
    data = data or tiny_dataset()
    entry = get_entry(name)
    return dataclasses.replace(config_for_dataset(entry.default_config(), data), **{**entry.tiny, **overrides})


def train_config(name="dcgan", **overrides):
    return dataclasses.replace(get_entry(name).default_train_config(), **{**FAST, **overrides})


@pytest.mark.parametrize(
    "name, overrides",
    [
        *[("dcgan", {"loss": loss}) for loss in GAN_LOSSES.names() if loss != "wasserstein"],
        ("wgan-gp", {}),
        ("sngan", {}),
        ("dcgan", {"r1_weight": 1.0, "r1_every": 2}),
        ("dcgan", {"diffaugment": "color,translation,cutout", "d_norm": "batch", "g_activation": "tanh"}),
        ("sngan", {"conditional": True, "g_activation": "leaky_relu"}),
    ],
)
def test_every_loss_and_regulariser_trains_finite_steps_updating_both_networks(tmp_path, name, overrides):
    data = tiny_dataset()
    config = tiny_gan_config(name, data, **overrides)
    model = build_model(name, config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(name, data, tmp_path / "run", model=model, train_config=train_config(name, steps=3), quiet=True)
    assert result.step == 3
    logged = result.last_metrics
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "diversity", "grad_norm_generator", "grad_norm_discriminator"):
        assert key in logged and torch.isfinite(torch.tensor(logged[key])), key
    if overrides.get("r1_weight"):
        assert "r1" in logged
    if name == "wgan-gp":
        assert logged["gp"] >= 0
    after = model.state_dict()
    for prefix in ("generator.", "discriminator."):
        changed = [
            k
            for k in after
            if k.startswith(prefix)
            and after[k].is_floating_point()
            and not torch.equal(after[k].cpu(), before[k].cpu())
        ]
        assert changed, f"no {prefix} weight changed"


def test_n_critic_discriminator_updates_per_generator_update(tmp_path):
    data = tiny_dataset()
    result = train(
        "wgan-gp",
        data,
        tmp_path / "run",
        model_config=tiny_gan_config("wgan-gp", data, n_critic=3),
        train_config=train_config("wgan-gp", steps=2, checkpoint_every=100),
        quiet=True,
    )
    assert result.step == 2
    _, meta = ckpt.load_state(tmp_path / "run")
    d_steps = {v for k, v in meta["optimizers"]["discriminator"].items() if k.endswith(".step")}
    g_steps = {v for k, v in meta["optimizers"]["generator"].items() if k.endswith(".step")}
    tensors, _ = ckpt.load_state(tmp_path / "run")
    d_steps |= {float(v) for k, v in tensors.items() if k.startswith("optim.discriminator.") and k.endswith(".step")}
    g_steps |= {float(v) for k, v in tensors.items() if k.startswith("optim.generator.") and k.endswith(".step")}
    assert d_steps == {6.0} and g_steps == {2.0}


def test_ema_covers_the_generator_only(tmp_path):
    data = tiny_dataset()
    train(
        "dcgan",
        data,
        tmp_path / "run",
        model_config=tiny_gan_config("dcgan", data),
        train_config=train_config(steps=4),
        quiet=True,
    )
    weights = load_file(tmp_path / "run/model.safetensors")
    tensors, _ = ckpt.load_state(tmp_path / "run")
    raw = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    assert any(not torch.equal(weights[k], raw[k]) for k in weights if k.startswith("generator.") and "weight" in k)
    assert all(torch.equal(weights[k], raw[k]) for k in weights if k.startswith("discriminator."))
    assert not any(k.startswith("ema.discriminator") for k in tensors)


def test_guard_rolls_a_gan_back_after_an_injected_nan(tmp_path, capsys):
    data = tiny_dataset()
    model = build_model("dcgan", tiny_gan_config("dcgan", data))
    honest = model.generator_loss
    poisoned = {"left": 1}

    def loss_with_one_nan(fake_logits):
        loss = honest(fake_logits)
        if poisoned["left"] and model.training and torch.is_grad_enabled():
            poisoned["left"] -= 1
            return loss * float("nan")
        return loss

    model.generator_loss = loss_with_one_nan
    # the NaN comes at step 0, so the guard's own step-0 checkpoint is what it rolls back to
    result = train("dcgan", data, tmp_path / "run", model=model, train_config=train_config(steps=5), quiet=True)
    assert result.step == 5
    assert "guard: non-finite generator loss at step 0; rolled back from step 0 to step 0" in capsys.readouterr().err
    events = [row for row in ckpt.read_metrics(tmp_path / "run") if row.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["lr_scale"] == 0.5
    groups = {row["lr"] for row in ckpt.read_metrics(tmp_path / "run") if "lr" in row}
    assert groups == {model.config.d_lr * 0.5}  # the logged rate is the first group's (D), halved


def test_health_reports_a_stuck_discriminator_and_collapsed_diversity_after_patience():
    model = build_model("dcgan", tiny_gan_config("dcgan", guard_after=0, guard_patience=3))
    healthy = {"step": 10, "d_loss": 1.2, "diversity": 0.6, "grad_norm_generator": 3.0}
    assert model.health(healthy) is None
    stuck = {**healthy, "d_loss": 1e-5}
    assert model.health(stuck) is None and model.health(stuck) is None
    assert "discriminator loss below" in model.health(stuck)
    collapsed = {**healthy, "diversity": 0.01}
    messages = [model.health(collapsed) for _ in range(3)]
    assert messages[:2] == [None, None] and "mode collapse" in messages[2]
    assert "gradient norm" in model.health({**healthy, "grad_norm_generator": 1e6})
    early = build_model("dcgan", tiny_gan_config("dcgan", guard_after=100))
    assert early.health({**healthy, "grad_norm_generator": 1e6}) is None
    critic = build_model("wgan-gp", tiny_gan_config("wgan-gp", guard_after=0, guard_patience=1))
    assert critic.health({**healthy, "d_loss": -5.0}) is None  # a negative critic loss is normal


def test_loss_formulas_on_known_logits():
    model = build_model("dcgan", tiny_gan_config("dcgan"))
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-2.0, -1.5])
    softplus = torch.nn.functional.softplus
    expected = {
        "non-saturating": (softplus(-real).mean() + softplus(fake).mean(), softplus(-fake).mean()),
        "minimax": (softplus(-real).mean() + softplus(fake).mean(), -softplus(fake).mean()),
        "hinge": (torch.tensor(0.0), torch.tensor(1.75)),
        "wasserstein": (torch.tensor(-4.25), torch.tensor(1.75)),
        "least-squares": (0.5 * ((real - 1).pow(2).mean() + fake.pow(2).mean()), 0.5 * (fake - 1).pow(2).mean()),
    }
    for loss, (d_value, g_value) in expected.items():
        model.config = dataclasses.replace(model.config, loss=loss, spectral_norm=True)
        assert float(model.discriminator_loss(real, fake)) == pytest.approx(float(d_value), abs=1e-6), loss
        assert float(model.generator_loss(fake)) == pytest.approx(float(g_value), abs=1e-6), loss


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so penalties have closed forms."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(-0.2, 0.3, size * size).view(1, 1, size, size))

    def forward(self, images, labels=None):
        return (images * self.weight).flatten(1).sum(dim=1)


def test_gradient_penalty_and_r1_match_closed_forms_for_a_linear_critic():
    config = tiny_gan_config("dcgan")
    model = GAN(config, discriminator=LinearCritic(config.image_size))
    real = torch.rand(5, 1, config.image_size, config.image_size) * 2 - 1
    fake = torch.rand(5, 1, config.image_size, config.image_size) * 2 - 1
    norm = model.discriminator.weight.detach().norm()
    gp = model.gradient_penalty(real, fake, None, lambda shape: torch.rand(shape))
    assert gp.item() == pytest.approx(float((norm - 1) ** 2), rel=1e-5)
    r1, logits = model.r1_penalty(real, None, lambda shape: torch.rand(shape))
    assert r1.item() == pytest.approx(float(norm**2), rel=1e-5)
    assert torch.allclose(logits, model.discriminator(real))


def test_diffaugment_translation_is_a_zero_filled_whole_pixel_shift_and_cutout_blanks_a_quarter():
    images = torch.rand(3, 2, 16, 16) * 2 - 1
    half_shift = lambda shape: torch.full(shape, 0.99)
    shifted = diff_augment(images, ["translation"], half_shift)
    assert torch.equal(shifted[:, :, 2:, 2:], images[:, :, :-2, :-2])
    assert torch.count_nonzero(shifted[:, :, :2, :]) == 0 and torch.count_nonzero(shifted[:, :, :, :2]) == 0
    cut = diff_augment(torch.ones(4, 1, 16, 16), ["cutout"], lambda shape: torch.rand(shape))
    zeros_per_image = (cut == 0).flatten(1).sum(dim=1)
    assert torch.all(zeros_per_image <= 64) and torch.all(zeros_per_image >= 16)  # clipped at the border
    centred = diff_augment(torch.ones(2, 1, 16, 16), ["cutout"], lambda shape: torch.full(shape, 0.5))
    assert torch.equal((centred == 0)[0, 0].nonzero().amin(0), torch.tensor([4, 4]))
    assert int((centred == 0).sum()) == 2 * 64
    colour = diff_augment(images.requires_grad_(True), ["color", "translation", "cutout"], lambda s: torch.rand(s))
    colour.sum().backward()
    assert colour.shape == images.shape and images.grad is not None and torch.isfinite(images.grad).all()


def test_conditional_generation_depends_on_the_class_and_projection_on_the_label():
    data = tiny_dataset()
    model = build_model("dcgan", tiny_gan_config("dcgan", data, conditional=True)).eval()
    z = torch.randn(4, 8)
    first = model.decode_latents(z, torch.zeros(4, dtype=torch.long))
    second = model.decode_latents(z, torch.ones(4, dtype=torch.long))
    assert first.shape == (4, 1, 8, 8) and not torch.allclose(first, second)
    images = torch.rand(4, 1, 8, 8)
    assert not torch.allclose(
        model.discriminator(images, torch.zeros(4, dtype=torch.long)), model.discriminator(images, torch.full((4,), 3))
    )
    with pytest.raises(InputError, match=r"class must be in 0\.\.3, got 7"):
        model.sample(2, labels=torch.tensor([7]))
    plain = build_model("dcgan", tiny_gan_config("dcgan", data))
    with pytest.raises(InputError, match="not class-conditional"):
        plain.sample(2, labels=torch.tensor([1]))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"loss": "wgan"}, "is not one of 'non-saturating', 'minimax', 'hinge', 'wasserstein', 'least-squares'"),
        ({"loss": "wasserstein", "gp_weight": 0.0}, "needs a Lipschitz constraint"),
        ({"gp_weight": 10.0, "d_norm": "batch"}, "use d_norm=none"),
        ({"diffaugment": "color,blur"}, "unknown diffaugment 'blur'; valid: color, translation, cutout"),
        ({"n_critic": 0}, "n_critic"),
    ],
)
def test_bad_gan_configs_are_named(overrides, message):
    from imsynth.config import from_dict, to_dict
    from imsynth.models.gan import GANConfig

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_dict(GANConfig, {**to_dict(tiny_gan_config("dcgan")), **overrides}, where="model")


def test_fid_tracking_keeps_the_best_weights_in_model_safetensors(tmp_path):
    from imsynth.data import load_dataset

    digits = load_dataset("digits", limit=256)  # digits ship a feature network
    config = tiny_gan_config("dcgan", digits)
    result = train(
        "dcgan",
        digits,
        tmp_path / "run",
        model_config=config,
        quiet=True,
        train_config=train_config(steps=6, fid_every=2, fid_samples=64, batch_size=32),
    )
    assert result.step == 6
    rows = [row for row in ckpt.read_metrics(tmp_path / "run") if "fid" in row]
    assert [row["step"] for row in rows] == [2, 4, 6]
    best = min(rows, key=lambda row: row["fid"])
    saved = json.loads((tmp_path / "run/config.json").read_text())
    assert saved["best"]["step"] == best["step"] and saved["best"]["fid"] == pytest.approx(best["fid"])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run/model.safetensors"), "pt") as handle:
        assert handle.metadata()["step"] == str(best["step"])
    model, _ = load_run(tmp_path / "run")
    assert model.sample(3).shape == (3, 1, 8, 8)
