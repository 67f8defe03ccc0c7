import pytest

from tests.helpers import tiny_run as _tiny_run


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("gan"), "dcgan")


@pytest.fixture(scope="session")
def cgan_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("cgan"), "dcgan", conditional=True)


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("vae"), "vae", latent_dim=4)


@pytest.fixture(scope="session")
def ddpm_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("ddpm"), "ddpm", timesteps=100, sample_steps=10)


@pytest.fixture(scope="session")
def cddpm_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory.mktemp("cddpm"), "ddpm-cond", timesteps=100, sample_steps=10)


@pytest.fixture(scope="session")
def codec_run(tmp_path_factory):
    # trained enough (100 steps at a high rate) that its two qualities differ: 1.24 -> 1.72 bpp, 14.7 -> 15.4 dB
    return _tiny_run(tmp_path_factory.mktemp("codec"), "hyperprior", steps=100, lr=1e-2)


@pytest.fixture(scope="session")
def digits_vae_run(tmp_path_factory):
    """A VAE at its default size trained enough (400 steps, ~15 s) on the 8x8 digits to restore them."""
    import dataclasses

    from imsynth.data import load_dataset
    from imsynth.models import config_for_dataset, get_entry
    from imsynth.train import train

    data, entry = load_dataset("digits"), get_entry("vae")
    config = dataclasses.replace(config_for_dataset(entry.default_config(), data), latent_dim=16)
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=400, fid_every=0, sample_every=1000, checkpoint_every=1000, seed=0
    )
    out = tmp_path_factory.mktemp("digits-vae") / "vae"
    train("vae", data, out, model_config=config, train_config=train_config, quiet=True)
    return out
