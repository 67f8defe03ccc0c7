"""The denoising VAE: it sees corrupted inputs and learns to return the clean image; Defense-VAE adds PGD examples."""

import pytest
import torch

from imsynth.data import load_dataset
from imsynth.errors import ConfigError
from imsynth.models import build_model, fit_config_to_data, get_entry
from imsynth.models.corruption import corrupt_batch
from imsynth.runtime.tensors import to_model


def tiny(name, **overrides):
    config = fit_config_to_data(
        get_entry(name).default_config(), channels=1, image_size=8, num_classes=10, dataset_size=1000
    )
    for key, value in {"width": 16, "latent_dim": 8, **overrides}.items():
        setattr(config, key, value)
    config.__post_init__()
    torch.manual_seed(0)
    return build_model(name, config)


def fit(model, images, steps=300):
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        batch = images[torch.randint(0, len(images), (64,), generator=generator)]
        keyed = torch.Generator().manual_seed(step)
        output = model.loss(batch, step=step, uniform=lambda shape, keyed=keyed: torch.rand(shape, generator=keyed))
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    return model.eval()


def test_dvae_lowers_reconstruction_error_on_corrupted_inputs():
    data = load_dataset("digits")
    train, test = to_model(data.train_images), to_model(data.test_images[:200])
    # damage a plain VAE's bottleneck does not already remove at 8x8 (it smooths away most noise by itself)
    mix = {"corruptions": "rain,blocks", "severities": "4", "clean_fraction": 0.0}
    dvae = fit(tiny("dvae", **mix), train)
    vae = fit(tiny("vae", likelihood="gaussian"), train)
    damaged = corrupt_batch(test, "rain,blocks", "4", seeds=1000)
    with torch.no_grad():
        error_dvae = (dvae.purify(damaged) - test).pow(2).mean()
        error_vae = (vae.purify(damaged) - test).pow(2).mean()
        error_input = (damaged - test).pow(2).mean()
    assert error_dvae < 0.75 * error_input
    assert error_dvae < 0.92 * error_vae


def test_dvae_objective_uses_damaged_inputs_and_is_reproducible():
    model = tiny("dvae", corruptions="blocks", severities="5", clean_fraction=0.0)
    images = to_model(load_dataset("digits").train_images[:16])

    def keyed(seed):
        generator = torch.Generator().manual_seed(seed)
        return lambda shape: torch.rand(shape, generator=generator)

    def noise(shape):  # posterior means: the loss is deterministic
        return torch.zeros(shape)

    first = model.loss(images, uniform=keyed(1), noise=noise).loss
    assert torch.equal(first, model.loss(images, uniform=keyed(1), noise=noise).loss)
    assert not torch.equal(first, model.objective(images, images, noise=noise).loss)
    clean = tiny("dvae", clean_fraction=1.0)
    assert torch.equal(
        clean.loss(images, uniform=keyed(1), noise=noise).loss, clean.objective(images, images, noise=noise).loss
    )


def test_defense_vae_trains_on_fresh_pgd_examples(monkeypatch):
    model = tiny("defense-vae", adversarial_fraction=0.9, clean_fraction=0.0, adversarial_steps=2)
    images = to_model(load_dataset("digits").train_images[:8])
    damaged = model._adversarial(images, seed=0)
    assert damaged.shape == images.shape
    assert ((damaged - images).abs().max() - 0.2).abs() < 1e-4  # eps 0.1 on the 0-1 scale = 0.2 on [-1, 1]
    seen = []
    objective = model.objective
    monkeypatch.setattr(model, "objective", lambda inputs, *a, **k: seen.append(inputs) or objective(inputs, *a, **k))
    losses = [model.loss(images, uniform=lambda shape, u=u: torch.full(shape, u)) for u in (0.5, 0.7)]
    losses[0].loss.backward()
    assert torch.isfinite(losses[0].loss)
    # the encoder is fed the PGD examples of this batch (every image drawn into the adversarial share), not the
    # clean or merely corrupted images; each batch draws its own attack (a new seed), so the examples differ
    for inputs, u in zip(seen, (0.5, 0.7), strict=True):
        seed = int((torch.full((1,), u) * 2**31).long())  # as the loss draws it
        assert torch.equal(inputs, model._adversarial(images, seed))
    assert not torch.equal(seen[0], seen[1])
    clean = objective(images, images).loss
    assert not torch.isclose(losses[0].loss, clean)


@pytest.mark.parametrize("overrides, message", [
    ({"corruptions": "gaussian,fog"}, "unknown corruption 'fog'"),
    ({"severities": "2-7"}, "severity must be an integer from 0 to 5"),
    ({"clean_fraction": 1.5}, "clean_fraction"),
    ({"adversarial_fraction": 0.5, "classifier": ""}, "need a classifier"),
])  # fmt: skip
def test_bad_dvae_configs_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        tiny("dvae", **overrides)
