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
    return _tiny_run(tmp_path_factory.mktemp("codec"), "hyperprior", steps=10)
