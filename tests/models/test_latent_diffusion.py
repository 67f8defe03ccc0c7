"""Latent diffusion: trained in a frozen autoencoder's latent, it learns that latent's distribution; the run
carries the autoencoder, and every wrong autoencoder is refused before anything is written."""

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from imsynth.errors import InputError
from imsynth.models import build_model, config_for_dataset, get_entry, load_run
from imsynth.train import train
from tests.helpers import assert_one_line_error, run_cli, tiny_dataset, tiny_run


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory):
    data = tiny_dataset(count=256, size=8, classes=4)
    return tiny_run(tmp_path_factory.mktemp("ae"), "vae", steps=60, data=data, latent_dim=4), data


def latent_config(data, autoencoder, **overrides):
    entry = get_entry("latent-ddpm")
    config = config_for_dataset(entry.default_config(), data)
    values = {**entry.tiny, "hidden": 64, "blocks": 2, "autoencoder": str(autoencoder), **overrides}
    return dataclasses.replace(config, **values)


class TwoClusters(nn.Module):
    """An encoder whose latents are far from N(0, I): +-2 in every dimension by the image's brightness."""

    conditional = False
    latent_dim = 4

    def encode(self, images, labels=None):
        side = torch.where(images.flatten(1).mean(1, keepdim=True) > 0, 2.0, -2.0)
        return side.expand(-1, 4), torch.full((len(images), 4), math.log(0.01))

    def decode_latents(self, latents, labels=None):
        return latents.mean(1).tanh().reshape(-1, 1, 1, 1).expand(-1, 1, 8, 8)


def test_it_learns_the_latent_distribution_it_is_trained_on(autoencoder):
    run, data = autoencoder
    torch.manual_seed(0)
    model = build_model("latent-ddpm", latent_config(data, run, sample_steps=20))
    model.autoencoder = TwoClusters()
    images = data.train_images.float() / 127.5 - 1
    optimizer = torch.optim.Adam(model.network.parameters(), lr=2e-3)
    for _ in range(400):
        batch = images[torch.randint(len(images), (128,))]
        optimizer.zero_grad()
        model.loss(batch).loss.backward()
        optimizer.step()
    model.eval()
    made = model.sample_latents(2000, generator=torch.Generator().manual_seed(0))
    # N(0, I) puts 4.6% of its mass beyond 2 - 0.4 = 1.6 in a dimension; the clusters put about all of it
    assert (made.abs() > 1.6).float().mean() > 0.8
    # and the dimensions move together, as the clusters' (each latent is +-2 in all four)
    assert (made.sign() == made[:, :1].sign()).all(dim=1).float().mean() > 0.8
    assert model.sample(6).shape == (6, 1, 8, 8)


def test_a_run_carries_its_autoencoder(autoencoder, tmp_path):
    original, data = autoencoder
    run = Path(shutil.copytree(original, tmp_path / "ae"))
    config = latent_config(data, run)
    train_config = dataclasses.replace(
        get_entry("latent-ddpm").default_train_config(),
        steps=4,
        batch_size=32,
        fid_every=0,
        sample_every=1000,
        checkpoint_every=1000,
    )
    train("latent-ddpm", data, tmp_path / "latent", model_config=config, train_config=train_config, quiet=True)
    (run / "model.safetensors").unlink()  # the autoencoder run is gone: the latent run does not need it
    model, saved = load_run(tmp_path / "latent")
    assert saved["model_config"]["autoencoder_model"] == "vae"
    images = data.test_images[:16].float() / 127.5 - 1
    round_trip = model.autoencoder_round_trip(images)
    assert round_trip.shape == images.shape and (round_trip - images).abs().mean() < 1


def test_wrong_autoencoders_are_refused(autoencoder, tmp_path):
    run, data = autoencoder
    gan_run = tiny_run(tmp_path, "dcgan", steps=2, data=data)
    entry = get_entry("latent-ddpm")
    with pytest.raises(InputError, match="needs an autoencoder run: --set autoencoder=RUN"):
        build_model("latent-ddpm", dataclasses.replace(config_for_dataset(entry.default_config(), data), **entry.tiny))
    with pytest.raises(InputError, match="needs an autoencoder run .* this is a dcgan run"):
        build_model("latent-ddpm", latent_config(data, gan_run))
    with pytest.raises(InputError, match="takes 1x8x8 images, the data 1x16x16"):
        build_model("latent-ddpm", latent_config(tiny_dataset(count=16, size=16), run))


def test_the_cli_refuses_a_missing_autoencoder_run_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "latent"
    code, _, err = run_cli(
        capsys,
        "train",
        "latent-ddpm",
        "--data",
        "digits",
        "--out",
        str(out),
        "--steps",
        "1",
        "--set",
        f"autoencoder={tmp_path / 'nowhere'}",
    )
    assert_one_line_error(code, err, "nowhere")
    assert not out.exists()


def test_eval_reports_the_autoencoders_round_trip_as_the_floor(tmp_path, capsys):
    vae = tiny_run(tmp_path, "vae", steps=10, latent_dim=4)
    latent = tiny_run(tmp_path, "latent-ddpm", steps=4, autoencoder=str(vae))
    code, out, err = run_cli(capsys, "eval", str(latent), "--n", "40", "--device", "cpu")
    assert code == 0, err
    report = json.loads(out)
    sampler = get_entry("latent-ddpm").default_config().sampler  # the family's own, at the tiny size's steps
    assert report["sampling"] == {"sampler": sampler, "steps": 5, "evaluations": 5}
    quality = report["sample_quality"]  # digits ships one feature network (Fashion-MNIST's second is untested here)
    assert 0 < quality["fid_floor_autoencoder"] < float("inf")
    assert quality["fid_floor_autoencoder"] != quality["fid"]


class CheckerMaps(nn.Module):
    """An encoder whose (2, 4, 4) latent maps are a +-2 checkerboard, its sign set by the image's brightness."""

    conditional = False
    latent_dim = 32

    def encode(self, images, labels=None):
        board = (torch.arange(4)[:, None] + torch.arange(4)[None]) % 2 * 4.0 - 2.0  # -2 / +2 alternating
        side = torch.where(images.flatten(1).mean(1) > 0, 1.0, -1.0)
        maps = side[:, None, None, None] * board.expand(2, 4, 4)
        return maps.flatten(1), torch.full((len(images), 32), math.log(0.01))

    def decode_latents(self, latents, labels=None):
        return latents.mean(1).tanh().reshape(-1, 1, 1, 1).expand(-1, 1, 8, 8)


def test_a_unet_denoiser_learns_a_spatial_autoencoders_latent_maps(tmp_path):
    data = tiny_dataset(count=256, size=8, classes=4)
    spatial = tiny_run(tmp_path, "vae", steps=5, data=data, latent_channels=2)  # 8 px -> 4x4 maps: 32 numbers
    config = latent_config(data, spatial, denoiser="unet", width=16, sample_steps=20)
    torch.manual_seed(0)
    model = build_model("latent-ddpm", config)
    assert model.network.shape == (2, 4, 4)
    model.autoencoder = CheckerMaps()
    images = data.train_images.float() / 127.5 - 1
    optimizer = torch.optim.Adam(model.network.parameters(), lr=2e-3)
    for _ in range(300):
        optimizer.zero_grad()
        model.loss(images[torch.randint(len(images), (64,))]).loss.backward()
        optimizer.step()
    model.eval()
    made = model.sample_latents(500, generator=torch.Generator().manual_seed(0)).view(500, 2, 4, 4)
    board = CheckerMaps().encode(torch.ones(1, 1, 8, 8))[0].view(2, 4, 4).sign()
    agreement = (made.sign() * board).flatten(1).mean(1)  # +1: the board, -1: its negative, ~0: noise
    assert (agreement.abs() > 0.8).float().mean() > 0.8  # the pattern across positions, not independent noise
    assert 0.2 < (agreement > 0).float().mean() < 0.8  # and both of its signs


def test_a_unet_denoiser_on_a_vector_latent_is_refused_and_nothing_is_written(autoencoder, tmp_path, capsys):
    run, data = autoencoder
    with pytest.raises(InputError, match="denoiser=unet needs an autoencoder with a spatial latent"):
        build_model("latent-ddpm", latent_config(data, run, denoiser="unet"))
    vector = tiny_run(tmp_path, "vae", steps=2, latent_dim=4)
    out = tmp_path / "latent"
    code, _, err = run_cli(
        capsys, "train", "latent-ddpm", "--data", "digits", "--out", str(out), "--steps", "1",
        "--set", f"autoencoder={vector}", "--set", "denoiser=unet",
    )  # fmt: skip
    assert_one_line_error(code, err, "latent_channels=N")
    assert not out.exists()
