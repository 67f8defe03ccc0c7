"""vae-gan: a VAE whose reconstructions a PatchGAN judges, so its decoder leaves the blur of the mean."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from imsynth.errors import InputError
from imsynth.models import build_model, load_run
from imsynth.models.gan import r1_penalty
from imsynth.models.vae_gan import VAEGANConfig
from tests.helpers import assert_one_line_error, quadrants, run_cli, tiny_run


def quadrant_run(root, steps: int, **settings):
    """A tiny vae-gan trained on the quadrants with beta = 50, which empties the code: the likelihood alone can only
    draw the mean, every quadrant at 25% grey. Its run folder and its loaded model."""
    run = tiny_run(root, "vae-gan", steps=steps, data=quadrants(), lr=3e-3, beta=50.0, **settings)
    model, saved = load_run(run)
    assert saved["model"] == "vae-gan"
    return run, model


def test_the_discriminator_pulls_the_decoder_from_the_blur_of_the_mean(tmp_path):
    # A picture with no white in it is one the discriminator rejects; the adversarial term must bring white back.
    images = quadrants().test_images.float() / 127.5 - 1
    brightest = {}
    for weight in (0.0, 1.0):
        _, model = quadrant_run(tmp_path / str(weight), 300, adversarial_weight=weight)
        with torch.no_grad():
            brightest[weight] = model.reconstruct(images).flatten(1).max(dim=1).values.mean().item()
    assert brightest[0.0] < -0.2  # the blur: no pixel brighter than about 40% grey
    assert brightest[1.0] > brightest[0.0] + 0.6  # measured: -0.42 -> 0.78


def test_the_adversarial_gradient_is_weighted_against_the_likelihoods():
    config = VAEGANConfig(channels=1, image_size=8, width=8, latent_dim=4, d_width=4, adversarial_weight=0.25)
    torch.manual_seed(0)
    model = build_model("vae-gan", config)
    images = torch.rand(6, 1, 8, 8) * 2 - 1
    output, decoded = model.objective_and_decoded(images, images)
    g_loss = -model.discriminator(model.mean_image(decoded)).mean()
    last = model.decoder.body[-1].weight
    weight = model.adaptive_weight(output.loss, g_loss, last)
    (likelihood_grad,) = torch.autograd.grad(output.loss, last, retain_graph=True)
    (adversarial_grad,) = torch.autograd.grad(weight * g_loss, last)
    # at the decoder's last layer the weighted adversarial gradient is 0.25 of the likelihood's, whatever its scale
    assert torch.isclose(adversarial_grad.norm() / likelihood_grad.norm(), torch.tensor(0.25), rtol=1e-2)
    assert set(model.optimizer_groups()) == {"model", "discriminator"}
    assert not any(name.startswith("discriminator.") for name in model.ema_parameter_names())


def test_a_vae_gan_run_is_an_autoencoder_for_the_latent_family(tmp_path):
    run = tiny_run(tmp_path, "vae-gan", steps=4)
    latent = tiny_run(tmp_path, "latent-ddpm", steps=2, autoencoder=str(run))
    model, saved = load_run(latent)
    assert saved["model"] == "latent-ddpm" and model.autoencoder.registered_name == "vae-gan"
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_bad_adversarial_settings_exit_2_with_one_line(tmp_path, capsys):
    for setting, fragment in (("adversarial_weight=-1", "adversarial_weight must be >= 0"), ("d_layers=0", "d_layers")):
        code, _, err = run_cli(capsys, "train", "vae-gan", "--data", "digits", "--out", str(tmp_path / "r"),
                               "--set", setting, "--steps", "1")  # fmt: skip
        assert_one_line_error(code, err, fragment)
        assert not (tmp_path / "r").exists()


def test_a_vae_gan_run_codes_images_like_any_vae(tmp_path, capsys):
    # its discriminator holds a 0-dim tensor (batch norm's step count) that the codec's fingerprint must take
    run = tiny_run(tmp_path, "vae-gan", steps=4, data=quadrants(), d_layers=2)  # a second layer brings the norm
    Image.fromarray(quadrants().test_images[0, 0].numpy()).save(tmp_path / "q.png")
    code, _, err = run_cli(
        capsys, "compress", str(tmp_path / "q.png"), "-o", str(tmp_path / "q.isz"), "--model", str(run)
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "decompress", str(tmp_path / "q.isz"), "-o", str(tmp_path / "back.png"),
                           "--runs", str(tmp_path))  # fmt: skip
    assert code == 0, err  # found among the runs by its fingerprint
    assert np.asarray(Image.open(tmp_path / "back.png")).shape == (8, 8)


def test_r1_makes_the_judge_smooth_on_real_images(tmp_path):
    # R1 penalises the judge's gradient on real images, so with it that gradient must come out smaller
    images = quadrants().test_images.float() / 127.5 - 1
    steepness = {}
    for weight in (0.0, 10.0):
        run, model = quadrant_run(tmp_path / str(weight), 150, adversarial_weight=1.0, r1_weight=weight, r1_every=2,
                                  d_lr=3e-3, d_width=8)  # fmt: skip
        model.discriminator.eval()
        steepness[weight], _ = r1_penalty(model.discriminator, images)
        judged = [row for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "d_loss" in row]
        # the engine logs each reported term at its latest value: the log's steps (50, 100, ...) are never R1's
        assert len(judged) == 4 and all(("r1" in row) == (weight > 0) for row in judged)
    assert steepness[10.0] < 0.1 * steepness[0.0]  # measured: 5.9 -> 0.004


def test_a_step_budget_reruns_bit_for_bit_judge_and_r1_included(tmp_path):
    # the latent family's presets are step budgets because a --minutes budget decays its learning rate by the clock
    runs = [quadrant_run(tmp_path / name, 40, adversarial_weight=1.0, r1_weight=1.0, r1_every=4)[0] for name in "ab"]
    first, second = (load_file(run / "model.safetensors") for run in runs)
    assert first.keys() == second.keys() and any(name.startswith("discriminator") for name in first)
    assert all(torch.equal(first[name], second[name]) for name in first)
    third = load_file(quadrant_run(tmp_path / "c", 41, adversarial_weight=1.0, r1_weight=1.0, r1_every=4)[0]
                      / "model.safetensors")  # fmt: skip
    assert not all(torch.equal(first[name], third[name]) for name in first)  # one step more is seen


def test_bad_r1_settings_are_refused():
    with pytest.raises(InputError, match="r1_weight must be >= 0"):
        VAEGANConfig(r1_weight=-1.0)
