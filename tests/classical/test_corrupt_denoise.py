"""Corruptions (identity at 0, monotone in severity, seeded, composable) and the classical denoisers."""

import numpy as np
import pytest
import torch
from skimage import data
from skimage.filters import laplace, sobel

from imsynth.classical.corrupt import CORRUPTIONS, corrupt, lighting_field, parameters, rain_layer
from imsynth.classical.denoise import DENOISERS, denoise, noise_sigma
from imsynth.errors import InputError
from imsynth.models.corruption import corrupt_batch, parse_severities

CAMERA = data.camera()[::8, ::8].astype(np.float32) / 255  # 64x64 grey photograph
COLOUR = data.astronaut()[::16, ::16].astype(np.float32) / 255  # 32x32 RGB


def mse(a, b):
    return float(((a - b) ** 2).mean())


@pytest.mark.parametrize("kind", CORRUPTIONS.names())
@pytest.mark.parametrize("image", [CAMERA, COLOUR], ids=["grey", "rgb"])
def test_severity_zero_is_identity_and_damage_grows_with_severity(kind, image):
    assert np.array_equal(corrupt(image, kind, 0, seed=5), image)
    errors = [mse(corrupt(image, kind, severity, seed=5), image) for severity in range(6)]
    assert errors[1] > 0
    assert all(later >= earlier for earlier, later in zip(errors, errors[1:])), errors


@pytest.mark.parametrize("kind", CORRUPTIONS.names())
def test_corruptions_are_seeded_in_range_and_keep_shape(kind):
    first, again = corrupt(COLOUR, kind, 3, seed=1), corrupt(COLOUR, kind, 3, seed=1)
    assert np.array_equal(first, again)
    assert first.shape == COLOUR.shape and first.dtype == np.float32
    assert 0 <= first.min() and first.max() <= 1
    if kind not in ("blur", "jpeg"):  # deterministic kinds do not depend on the seed
        assert not np.array_equal(first, corrupt(COLOUR, kind, 3, seed=2))


def test_composition_applies_kinds_in_order_and_each_level_is_documented():
    both = corrupt(CAMERA, "blur+gaussian", 3, seed=0)
    assert mse(both, CAMERA) > mse(corrupt(CAMERA, "blur", 3, seed=0), CAMERA)
    assert corrupt(CAMERA, ["blur", "gaussian"], 3, seed=0).tolist() == both.tolist()
    # the order is kept: noise added after the blur stays sharp, noise added before it is smoothed away
    reverse = corrupt(CAMERA, "gaussian+blur", 3, seed=0)
    assert np.abs(laplace(both)).mean() > 5 * np.abs(laplace(reverse)).mean()
    for kind in CORRUPTIONS.names():
        assert len(CORRUPTIONS.get(kind).info["levels"]) == 5
    assert parameters("gaussian", 3) == {"sigma": 0.12} and parameters("rain", 0) == {}


def test_gaussian_noise_has_the_documented_sigma():
    flat = np.full((200, 200), 0.5, np.float32)
    assert np.std(corrupt(flat, "gaussian", 3, seed=0) - flat) == pytest.approx(0.12, rel=0.02)


def test_rain_streaks_only_brighten_and_lighting_keeps_edges_of_the_scene():
    rainy = corrupt(CAMERA, "rain", 4, seed=3)
    assert (rainy >= CAMERA - 1e-6).all() and (rainy > CAMERA + 0.05).mean() > 0.02
    layer = rain_layer((64, 64), np.random.default_rng(0), density=0.1, length=0.3, brightness=0.8)
    assert layer.max() <= 0.8 + 1e-6
    # streaks are long thin lines: most of the layer's energy lies along one orientation
    gy, gx = np.gradient(layer)
    assert abs(np.abs(gx).sum() - np.abs(gy).sum()) / (np.abs(gx).sum() + np.abs(gy).sum()) > 0.3
    # lighting multiplies the scene by a smooth field and adds glare: a large change, yet the scene's edges stay
    # where they were; noise doing the same damage loses them
    edges = lambda image: np.corrcoef(sobel(image).ravel(), sobel(CAMERA).ravel())[0, 1]
    for seed in range(3):
        lit = corrupt(CAMERA, "lighting", 4, seed=seed)
        assert mse(lit, CAMERA) > 0.03 and edges(lit) > 0.85, (seed, mse(lit, CAMERA), edges(lit))
    noisy = np.clip(CAMERA + np.random.default_rng(0).normal(0, 0.2, CAMERA.shape), 0, 1).astype(np.float32)
    assert mse(noisy, CAMERA) > 0.03 and edges(noisy) < 0.75
    field, glare = lighting_field((64, 64), np.random.default_rng(0), strength=0.6)
    assert field.min() == pytest.approx(0.4, abs=0.01) and field.max() <= 1  # darkens by up to the strength
    assert np.abs(np.gradient(field)).max() < 0.05 and 0 < glare.max() <= 0.6 + 1e-6  # smooth, bounded glare


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: corrupt(CAMERA, "fog", 2), "unknown corruption 'fog'; valid: gaussian"),
        (lambda: corrupt(CAMERA, "rain", 6), "severity must be an integer from 0 to 5"),
        (lambda: corrupt(CAMERA, "rain", -1), "severity must be an integer from 0 to 5"),
        (lambda: corrupt(CAMERA, "rain+", 2), "no corruption kind"),
        (lambda: corrupt((CAMERA * 255).astype(np.uint8), "rain", 2), "integer array"),
        (lambda: parse_severities("1-x"), "severities look like"),
    ],
)
def test_bad_corruption_input_is_one_clear_error(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_torch_batches_draw_kind_and_severity_per_image_reproducibly():
    images = torch.from_numpy(np.stack([CAMERA] * 6))[:, None] * 2 - 1
    damaged = corrupt_batch(images, "gaussian,rain", "1-5", seeds=torch.arange(6))
    assert damaged.shape == images.shape and damaged.dtype == images.dtype
    assert torch.equal(damaged, corrupt_batch(images, "gaussian,rain", "1-5", seeds=torch.arange(6)))
    assert (damaged - images).abs().flatten(1).max(1).values.min() > 0  # every image damaged
    assert damaged.min() >= -1 and damaged.max() <= 1
    assert torch.allclose(corrupt_batch(images, "rain", "0", seeds=0), images, atol=1e-6)


@pytest.mark.parametrize("name", DENOISERS.names(tag="classical"))
def test_classical_denoisers_lower_gaussian_noise_error(name):
    noisy = corrupt(CAMERA, "gaussian", 3, seed=0)
    restored = denoise(noisy, name)
    assert restored.shape == CAMERA.shape and restored.dtype == np.float32
    assert mse(restored, CAMERA) < 0.8 * mse(noisy, CAMERA)


def test_median_removes_impulse_noise_and_colour_denoisers_keep_channels():
    noisy = corrupt(CAMERA, "impulse", 2, seed=0)
    assert mse(denoise(noisy, "median"), CAMERA) < 0.75 * mse(noisy, CAMERA)
    for name in ("nl-means", "wavelet", "tv", "fast-nl-means"):
        assert denoise(corrupt(COLOUR, "gaussian", 2), name).shape == COLOUR.shape


def test_noise_estimate_and_bad_denoiser_input():
    assert noise_sigma(corrupt(CAMERA, "gaussian", 4, seed=0)[:, :, None]) == pytest.approx(0.18, rel=0.25)
    with pytest.raises(InputError, match="unknown denoising method 'gauss'; valid: nl-means"):
        denoise(CAMERA, "gauss")
    with pytest.raises(InputError, match="--sigma must be a positive number"):
        denoise(CAMERA, "tv", sigma=-1.0)
    with pytest.raises(InputError, match="--size must be an odd number"):
        denoise(CAMERA, "median", size=4)
    with pytest.raises(InputError, match="does not apply"):
        denoise(CAMERA, "median", sigma=0.1)


def test_bm3d_refuses_images_of_its_block_size_instead_of_crashing():
    # found by the action fuzz: the bm3d library ends the process with a segfault on an 8x8 image
    with pytest.raises(InputError, match="bm3d needs images over 8 pixels a side"):
        denoise(np.full((8, 8), 0.5, np.float32), "bm3d")
    assert denoise(np.full((9, 9), 0.5, np.float32), "bm3d").shape == (9, 9)
