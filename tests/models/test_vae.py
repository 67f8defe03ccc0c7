import dataclasses
import math

import pytest
import torch

from imsynth.errors import InputError
from imsynth.models import MODEL_REGISTRY, build_model, fit_config_to_data, get_entry
from imsynth.models.vae import VAE, VAEConfig, interpolate_latents, stratified_log_weights

VAE_NAMES = ["vae", "beta-vae", "beta-tcvae", "cvae"]


def tiny(name: str, size: int = 8, **overrides) -> VAE:
    config = fit_config_to_data(
        get_entry(name).default_config(), channels=1, image_size=size, num_classes=3, dataset_size=100
    )
    config = dataclasses.replace(config, **overrides)  # __post_init__ runs: derived fields follow
    torch.manual_seed(0)
    return build_model(name, config)


def test_every_vae_name_is_registered():
    assert set(VAE_NAMES) <= set(MODEL_REGISTRY.names())
    assert get_entry("beta-vae").default_config().beta == 4.0
    assert get_entry("beta-tcvae").default_config().total_correlation
    with pytest.raises(InputError, match="valid: .*beta-tcvae.*cvae"):
        get_entry("vqvae")


@pytest.mark.parametrize("name", VAE_NAMES)
@pytest.mark.parametrize("size", [8, 28])
def test_model_contract(name, size):
    """Every registered VAE: finite loss with parts, gradients everywhere, shapes of every method."""
    model = tiny(name, size)
    images = torch.rand(6, 1, size, size) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    output = model.loss(images, labels, step=3)
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    assert {"recon", "kl", "elbo"} <= set(output.parts)
    output.loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    mean, log_var = model.encode(images, labels)
    assert mean.shape == log_var.shape == (6, model.config.latent_dim)
    decoded = model.decode(mean, labels)
    assert decoded.shape == images.shape and decoded.min() >= -1 and decoded.max() <= 1
    given = labels[:5] if model.conditional else None
    assert model.sample(5, labels=given).shape == (5, 1, size, size)
    assert model.reconstruct(images, labels).shape == images.shape
    assert model.interpolate(images[:1], images[1:2], steps=4, labels=labels[:1]).shape == (4, 1, size, size)
    assert model.traverse(images[:1], dims=[0, 2], values=5, labels=labels[:1]).shape == (10, 1, size, size)


def test_a_spatial_latent_is_a_map_whose_positions_decode_their_own_neighbourhood():
    model = tiny("vae", 28, latent_channels=3)
    config = model.config
    assert config.latent_dim == 3 * 7 * 7  # 28 -> 14 -> 7; set by latent_channels whatever latent_dim said
    assert VAEConfig(latent_channels=2, image_size=32).latent_dim == 2 * 4 * 4
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    output = model.loss(images, step=1)
    output.loss.backward()
    assert torch.isfinite(output.loss) and all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        mean, _ = model.encode(images)
        assert mean.shape == (4, 147)
        moved = mean.clone().view(4, 3, 7, 7)
        moved[:, :, 0, 0] += 3.0  # one position of the map, every channel: the top-left corner
        change = (model.decode(moved.flatten(1)) - model.decode(mean)).abs()[:, 0]
        vector = tiny("vae", 28, latent_dim=147)
        vector_change = (vector.decode(mean + 3.0 * (torch.arange(147) % 49 == 0)) - vector.decode(mean)).abs()[:, 0]
    assert change[:, :6, :6].min() > 0  # the corner moved, every pixel of it
    assert change[:, 21:, 21:].max() == 0  # the far corner did not: the code is local
    assert vector_change[:, 21:, 21:].min() > 0  # a vector code reaches every pixel
    assert model.latent_features(mean).shape == (4, model.decoder.top_width * 49)


def test_kl_matches_torch_distributions():
    model = tiny("vae")
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    mean, log_var = model.encode(images)
    posterior = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
    prior = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    with torch.no_grad():
        kl = model.loss(images).parts["kl"]
    assert kl == pytest.approx(float(expected.detach()), rel=1e-5)


def test_beta_scales_only_the_kl_term():
    plain, heavy = tiny("vae"), tiny("vae", beta=4.0)
    heavy.load_state_dict(plain.state_dict())
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = lambda shape: torch.ones(shape) * 0.3
    a, b = plain.loss(images, noise=noise), heavy.loss(images, noise=noise)
    assert float(b.loss - a.loss) == pytest.approx(3 * float(a.parts["kl"]), abs=1e-4)


def test_kl_warmup_and_free_bits_shape_the_objective():
    warm = tiny("vae", kl_warmup=100)
    floored = tiny("vae", free_bits=5.0)
    floored.load_state_dict(warm.state_dict())
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = lambda shape: torch.zeros(shape)
    start, half, done = (warm.loss(images, step=s, noise=noise) for s in (0, 50, 100))
    kl = float(start.parts["kl"])
    assert float(start.loss - start.parts["recon"]) == pytest.approx(0.0, abs=1e-6)
    assert float(half.loss - half.parts["recon"]) == pytest.approx(0.5 * kl, rel=1e-4)
    assert float(done.loss - done.parts["recon"]) == pytest.approx(kl, rel=1e-4)
    # a floor above every dimension's KL: the objective counts exactly floor x dimensions
    out = floored.loss(images, noise=noise)
    dims = floored.config.latent_dim
    assert float(out.parts["kl"]) < 5.0 * dims
    assert float(out.loss - out.parts["recon"]) == pytest.approx(5.0 * dims, rel=1e-5)


def test_posterior_collapse_is_reported_once_naming_the_remedies(tmp_path):
    """Injected collapse: a KL weight of 50 drives every code to the prior; the log says so once."""
    import dataclasses

    from imsynth.data import load_dataset
    from imsynth.models import config_for_dataset
    from imsynth.runtime import runs
    from imsynth.train import train

    data = load_dataset("digits")
    entry = get_entry("vae")
    config = dataclasses.replace(config_for_dataset(entry.default_config(), data), width=8, latent_dim=4, beta=50.0)
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=160, batch_size=32, fid_every=0, sample_every=1000, log_every=10
    )
    train("vae", data, tmp_path / "run", model_config=config, train_config=train_config, quiet=True)
    events = [row for row in runs.read_metrics(tmp_path / "run") if row.get("event") == "advice"]
    assert len(events) == 1 and events[0]["step"] > 100
    assert "posterior collapse" in events[0]["message"] and "kl_warmup" in events[0]["message"]
    assert "free_bits" in events[0]["message"]
    healthy = tiny("vae")
    assert healthy.advice({"kl": 5.0}, 1000) is None and healthy.advice({"kl": 0.01}, 50) is None


def test_capacity_objective_targets_a_rising_kl():
    model = tiny("beta-vae", capacity_max=20.0, capacity_steps=100, capacity_gamma=10.0)
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    noise = lambda shape: torch.zeros(shape)
    early, late = model.loss(images, step=0, noise=noise), model.loss(images, step=50, noise=noise)
    kl = float(early.parts["kl"])
    assert float(early.loss - early.parts["recon"]) == pytest.approx(10 * abs(kl - 0), rel=1e-4)
    assert float(late.loss - late.parts["recon"]) == pytest.approx(10 * abs(kl - 10), rel=1e-4)


def test_stratified_weights_are_a_distribution_per_row():
    weights = stratified_log_weights(8, 1000, "cpu").exp()
    assert torch.allclose(weights.sum(1), torch.ones(8))
    assert weights[3, 3] == pytest.approx(1 / 1000)


def test_tc_decomposition_adds_up_to_the_sampled_kl():
    """MI + TC + dim-KL telescopes to E[log q(z|x) - log p(z)] for the same z, computed here independently."""
    from imsynth.models.vae import gaussian_log_density

    model = tiny("beta-tcvae")
    model.config.dataset_size = 16
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    epsilon = torch.randn(16, model.config.latent_dim)
    with torch.no_grad():
        parts = model.loss(images, noise=lambda shape: epsilon).parts
        mean, log_var = model.encode(images)
        z = mean + torch.exp(0.5 * log_var) * epsilon
        sampled_kl = (
            gaussian_log_density(z, mean, log_var).sum(1)
            - gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
        ).mean()
    assert float(parts["mi"] + parts["tc"] + parts["dim_kl"]) == pytest.approx(float(sampled_kl), abs=1e-3)
    assert float(parts["mi"]) != 0.0 and float(parts["tc"]) != 0.0  # the terms are really estimated


def test_iw_nll_is_tighter_than_the_elbo():
    model = tiny("vae")
    images = torch.rand(8, 1, 8, 8) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    one = model.likelihood(images, importance_samples=1, generator=generator)
    many = model.likelihood(images, importance_samples=64, generator=generator)
    assert one["iw_nll"] == pytest.approx(-one["elbo"], rel=1e-5)  # k = 1 is the ELBO
    assert many["iw_nll"] < -many["elbo"]
    assert many["nll_bits_per_dim"] == pytest.approx(many["iw_nll"] / (64 * math.log(2)))


def test_gaussian_likelihood_is_a_normalised_density():
    model = tiny("vae", likelihood="gaussian")
    decoded = torch.zeros(1, 1, 8, 8)
    images = torch.zeros(1, 1, 8, 8)
    sigma = math.exp(-1.0)
    expected = 64 * (-math.log(sigma) - 0.5 * math.log(2 * math.pi))
    assert float(model.log_likelihood(decoded, images)) == pytest.approx(expected, rel=1e-5)


def test_slerp_ends_at_both_codes_and_keeps_norm():
    start, end = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = interpolate_latents(start, end, 5)
    assert torch.allclose(path[0], start) and torch.allclose(path[-1], end, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)
    assert torch.allclose(interpolate_latents(start, end, 3, mode="lerp")[1], torch.tensor([1.5, 1.5]))


def test_conditional_labels_are_checked():
    model = tiny("cvae")
    with pytest.raises(InputError, match="class must be in 0..2"):
        model.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(InputError, match="not class-conditional"):
        tiny("vae").sample(2, labels=torch.tensor([0, 1]))
    samples = model.sample(2, labels=torch.tensor([1, 1]), generator=torch.Generator().manual_seed(0))
    other = model.sample(2, labels=torch.tensor([2, 2]), generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(samples, other)  # the label changes the image


def test_bad_model_configs_are_refused():
    from imsynth.errors import ConfigError

    with pytest.raises(ConfigError, match="latent_dim must be >= 1"):
        VAEConfig(latent_dim=0)
    with pytest.raises(ConfigError, match="not both"):
        VAEConfig(total_correlation=True, capacity_max=5)
