"""Hole filling: every method keeps known pixels, handles edge cases, and is right where the answer is known."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imsynth.classical import (
    biharmonic_fill,
    criminisi_inpaint,
    fill_constant,
    fill_mean,
    fill_nearest,
    harmonic_fill,
    patchmatch_inpaint,
    push_pull_fill,
    rbf_fill,
    scattered_fill,
)
from imsynth.errors import InputError

FILLERS = {
    "fill-constant": fill_constant,
    "fill-mean": fill_mean,
    "fill-nearest": fill_nearest,
    "interp-nearest": lambda i, m: scattered_fill(i, m, method="nearest"),
    "interp-linear": lambda i, m: scattered_fill(i, m, method="linear"),
    "interp-cubic": lambda i, m: scattered_fill(i, m, method="cubic"),
    "rbf": rbf_fill,
    "harmonic": harmonic_fill,
    "biharmonic": biharmonic_fill,
    "push-pull": push_pull_fill,
    "exemplar": lambda i, m: criminisi_inpaint(i, m, patch=3, search_radius=8),
    "patchmatch": lambda i, m: patchmatch_inpaint(i, m, patch=3, iterations=2),
}


def _box_mask(shape, top, left, height, width):
    mask = np.zeros(shape, bool)
    mask[top : top + height, left : left + width] = True
    return mask


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    channels=st.sampled_from([0, 1, 3]),
    method=st.sampled_from(sorted(FILLERS)),
    height=st.integers(12, 24),
    width=st.integers(12, 24),
)
def test_no_method_changes_a_known_pixel(seed, channels, method, height, width):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 0 else (height, width, channels)
    image = rng.random(shape, dtype=np.float32)
    mask = rng.random((height, width)) < 0.2
    mask[height // 3 : height // 3 + 4, width // 3 : width // 3 + 4] = True  # and one solid block
    filled = FILLERS[method](image, mask)
    assert filled.shape == image.shape and filled.dtype == np.float32
    assert np.array_equal(filled[~mask], image[~mask])
    assert np.isfinite(filled).all() and filled.min() >= 0 and filled.max() <= 1


@pytest.mark.parametrize("method", sorted(FILLERS))
def test_empty_mask_returns_an_equal_copy(method):
    image = np.random.default_rng(0).random((10, 12, 3), dtype=np.float32)
    filled = FILLERS[method](image, np.zeros((10, 12), bool))
    assert np.array_equal(filled, image) and filled is not image


@pytest.mark.parametrize("method", sorted(set(FILLERS) - {"fill-constant"}))
def test_a_mask_covering_everything_is_refused(method):
    with pytest.raises(InputError, match="covers the whole image"):
        FILLERS[method](np.zeros((8, 8), np.float32), np.ones((8, 8), bool))


def test_constant_fill_may_cover_everything():
    assert np.all(
        fill_constant(np.zeros((4, 4, 3), np.float32), np.ones((4, 4), bool), (0.2, 0.4, 0.6))
        == np.array([0.2, 0.4, 0.6], np.float32)
    )


@pytest.mark.parametrize(
    "bad,message",
    [
        (lambda: harmonic_fill(np.zeros((8, 8), np.float32), np.zeros((8, 9), bool)), "mask is 9x8"),
        (lambda: harmonic_fill(np.zeros((8, 8), np.float32), np.zeros((8, 8, 1), bool)), "must be 2-D"),
        (lambda: harmonic_fill(np.full((8, 8), np.nan, np.float32), np.zeros((8, 8), bool)), "NaN or infinite"),
        (lambda: fill_mean(np.full((8, 8), np.inf, np.float32), np.zeros((8, 8), bool)), "NaN or infinite"),
        (lambda: fill_nearest(np.zeros((8, 8), np.uint8), np.zeros((8, 8), bool)), "integer array"),
        (lambda: biharmonic_fill(np.zeros((1, 1), np.float32), np.zeros((1, 1), bool)), "need at least 2x2"),
        (
            lambda: criminisi_inpaint(np.zeros((8, 8), np.float32), _box_mask((8, 8), 2, 2, 2, 2), patch=11),
            "larger than",
        ),
        (
            lambda: patchmatch_inpaint(np.zeros((8, 8), np.float32), _box_mask((8, 8), 2, 2, 2, 2), patch=4),
            "odd number",
        ),
        (
            lambda: scattered_fill(np.zeros((8, 8), np.float32), _box_mask((8, 8), 2, 2, 2, 2), method="spline"),
            "unknown interpolation method 'spline'",
        ),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        bad()


def test_harmonic_reproduces_a_linear_ramp_and_biharmonic_a_quadratic():
    rows, cols = np.mgrid[0:30, 0:40].astype(np.float32)
    mask = _box_mask((30, 40), 8, 10, 12, 15)
    ramp = 0.01 * rows + 0.015 * cols + 0.05
    assert np.abs(harmonic_fill(ramp, mask) - ramp).max() < 1e-5
    assert np.abs(scattered_fill(ramp, mask, method="linear") - ramp).max() < 1e-5
    assert np.abs(rbf_fill(ramp, mask) - ramp).max() < 1e-4
    bowl = 0.0004 * (rows - 15) ** 2 + 0.0003 * (cols - 20) ** 2
    assert np.abs(biharmonic_fill(bowl, mask) - bowl).max() < 1e-5
    assert np.abs(harmonic_fill(bowl, mask) - bowl).max() > 1e-3  # the membrane cannot bend like that


def test_nearest_and_mean_fills():
    image = np.zeros((6, 6), np.float32)
    image[:, 3:] = 1.0
    mask = _box_mask((6, 6), 2, 1, 2, 4)
    nearest = fill_nearest(image, mask)
    assert np.array_equal(nearest[2:4, 1:3], np.zeros((2, 2))) and np.array_equal(nearest[2:4, 3:5], np.ones((2, 2)))
    assert np.allclose(fill_mean(image, mask)[mask], image[~mask].mean())


def test_push_pull_fills_a_constant_image_with_that_constant():
    image = np.full((40, 33, 3), 0.3, np.float32)
    filled = push_pull_fill(image, _box_mask((40, 33), 5, 4, 25, 20))
    assert np.abs(filled - 0.3).max() < 1e-6


def test_exemplar_methods_copy_known_pixels_into_the_hole():
    stripes = np.tile((np.arange(32) % 4 < 2).astype(np.float32), (32, 1))  # vertical stripes, period 4
    image = np.stack([stripes, 1 - stripes, np.full_like(stripes, 0.5)], axis=2) * 0.8 + 0.1
    mask = _box_mask((32, 32), 10, 10, 8, 8)
    for filled in (criminisi_inpaint(image, mask, patch=5), patchmatch_inpaint(image, mask, patch=5, seed=3)):
        palette = {tuple(v) for v in image.reshape(-1, 3)}
        assert all(tuple(v) in palette for v in filled[mask])
        # the stripes continue through the hole: each column keeps one value
        assert np.allclose(filled[mask].reshape(8, 8, 3).std(axis=0), 0, atol=1e-6)
        assert np.array_equal(filled, image)


def test_patchmatch_shape_fill_takes_texture_from_the_source():
    image = np.zeros((24, 24, 3), np.float32)
    source = np.zeros((16, 16, 3), np.float32)
    source[..., 0] = 0.9  # all red
    mask = _box_mask((24, 24), 6, 6, 10, 10)
    filled = patchmatch_inpaint(image, mask, patch=5, source=source)
    assert np.allclose(filled[mask], [0.9, 0, 0]) and np.array_equal(filled[~mask], image[~mask])
    with pytest.raises(InputError, match="source has 1 channels"):
        patchmatch_inpaint(image, mask, patch=5, source=source[..., 0])


def test_patchmatch_is_deterministic_for_a_seed():
    image = np.random.default_rng(0).random((20, 20, 3), dtype=np.float32)
    mask = _box_mask((20, 20), 5, 5, 6, 6)
    first, again = (patchmatch_inpaint(image, mask, patch=3, seed=7) for _ in range(2))
    assert np.array_equal(first, again)
