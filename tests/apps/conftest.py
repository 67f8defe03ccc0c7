import dataclasses

import pytest

from imsynth.models import config_for_dataset, get_entry
from imsynth.train import train


def _tiny_run(root, name, *, steps=20, **model_overrides):
    from imsynth.data import load_dataset

    data = load_dataset("digits")
    entry = get_entry(name)
    config = dataclasses.replace(config_for_dataset(entry.default_config(), data), **{**entry.tiny, **model_overrides})
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=steps, batch_size=32, fid_every=0, sample_every=1000, checkpoint_every=1000
    )
    out = root / name
    train(name, data, out, model_config=config, train_config=train_config, quiet=True)
    return out


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
