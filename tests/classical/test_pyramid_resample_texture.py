import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imsynth.classical import (
    blend,
    efros_leung,
    gaussian_pyramid,
    laplacian_pyramid,
    multiscale_texture,
    quilt,
    reconstruct,
    resize,
)
from imsynth.classical._patchmatch import patchmatch, random_field
from imsynth.classical.resample import resampling_matrix
from imsynth.errors import InputError


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    channels=st.sampled_from([0, 1, 3, 4]),
    levels=st.one_of(st.none(), st.integers(1, 8)),
    seed=st.integers(0, 1000),
)
def test_laplacian_pyramids_reconstruct_any_image(height, width, channels, levels, seed):
    shape = (height, width) if channels == 0 else (height, width, channels)
    image = np.random.default_rng(seed).random(shape, dtype=np.float32)
    pyramid = laplacian_pyramid(image, levels)
    assert pyramid[0].shape == image.shape
    for finer, coarser in zip(pyramid[:-1], pyramid[1:]):
        assert coarser.shape[:2] == ((finer.shape[0] + 1) // 2, (finer.shape[1] + 1) // 2)
    assert np.abs(reconstruct(pyramid) - image).max() < 1e-6


def test_gaussian_pyramid_of_a_constant_stays_constant():
    for level in gaussian_pyramid(np.full((37, 50, 3), 0.25, np.float32)):
        assert np.allclose(level, 0.25)


def test_blend_takes_each_side_where_the_mask_says_and_mixes_at_the_seam():
    a, b = np.zeros((64, 64, 3), np.float32), np.ones((64, 64, 3), np.float32)
    half = np.zeros((64, 64), bool)
    half[:, 32:] = True
    mixed = blend(a, b, half, levels=3)
    assert np.array_equal(blend(a, b, np.zeros((64, 64), bool)), a)
    assert np.allclose(blend(a, b, np.ones((64, 64), bool)), b)
    # three levels: the seam is about 2^3 pixels wide, rising monotonically from a to b
    assert np.allclose(mixed[:, :20], 0, atol=1e-2) and np.allclose(mixed[:, 44:], 1, atol=1e-2)
    assert 0.2 < mixed[10, 31, 0] < 0.8 and np.all(np.diff(mixed[10, :, 0]) >= -1e-6)
    wide = blend(a, b, half, levels=6)  # more levels: a wider transition
    assert wide[10, 20, 0] > mixed[10, 20, 0] + 0.01
    assert np.array_equal(blend(a, b, half, levels=1), np.where(half[:, :, None], b, a))  # one level: hard cut
    with pytest.raises(InputError, match="same size"):
        blend(a, b[:10], half)
    with pytest.raises(InputError, match="2-D mask of 64x64"):
        blend(a, b, half[:10])


def test_resize_keeps_constants_and_sums_exactly():
    constant = np.full((33, 17, 3), 0.4, np.float32)
    for method in ("nearest", "bilinear", "bicubic", "lanczos", "area"):
        for scale in (0.3, 1.0, 2.7):
            assert np.allclose(resize(constant, scale=scale, method=method), 0.4, atol=1e-6)
        matrix = resampling_matrix(17, 5, method)
        assert np.allclose(np.asarray(matrix.sum(axis=1)).ravel(), 1.0)


def test_resize_pixel_centres_and_anti_aliasing():
    image = np.random.default_rng(0).random((6, 8), dtype=np.float32)
    doubled = resize(image, scale=2, method="nearest")
    assert np.array_equal(doubled, image.repeat(2, axis=0).repeat(2, axis=1))
    assert np.allclose(resize(image, scale=0.5, method="area"), image.reshape(3, 2, 4, 2).mean(axis=(1, 3)), atol=1e-6)
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    for method in ("bilinear", "bicubic", "lanczos", "area"):  # a shrunk checkerboard is flat grey, not aliased
        small = resize(checker, size=(16, 16), method=method)
        assert np.abs(small - 0.5).max() < 0.02, method
    assert resize(image, size=(5, 3)).shape == (3, 5)
    with pytest.raises(InputError, match="unknown resampling method 'cubic'"):
        resize(image, scale=2, method="cubic")
    with pytest.raises(InputError, match="positive"):
        resize(image, scale=0)


def _sample(seed=0, size=24):
    return np.random.default_rng(seed).random((size, size, 3), dtype=np.float32)


@pytest.mark.parametrize(
    "synthesize",
    [
        lambda s, **k: quilt(s, (40, 30), block=8, **k),
        lambda s, **k: multiscale_texture(s, (40, 30), patch=5, **k),
        lambda s, **k: efros_leung(s[:12, :12], (14, 10), patch=5, **k),
    ],
)
def test_texture_synthesis_copies_sample_pixels_deterministically(synthesize):
    sample = _sample()
    first, again, other = synthesize(sample, seed=1), synthesize(sample, seed=1), synthesize(sample, seed=2)
    assert first.dtype == np.float32 and first.ndim == 3
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    palette = {tuple(v) for v in sample.reshape(-1, 3)}
    assert all(tuple(v) in palette for v in first.reshape(-1, 3))


def test_texture_sizes_and_bad_input():
    sample = _sample()
    assert quilt(sample, (50, 20), block=8).shape == (20, 50, 3)
    assert quilt(sample[..., 0], (10, 10), block=4).shape == (10, 10)
    assert multiscale_texture(sample, (33, 17), patch=3).shape == (17, 33, 3)
    with pytest.raises(InputError, match="block size 40 is larger than the 24x24 sample"):
        quilt(sample, (64, 64), block=40)
    with pytest.raises(InputError, match="patch size 31 is larger"):
        multiscale_texture(sample, (64, 64), patch=31)
    with pytest.raises(InputError, match="integer array"):
        quilt((sample * 255).astype(np.uint8), (64, 64))
    with pytest.raises(InputError, match="at least 1x1"):
        quilt(sample, (0, 5))


def test_quilting_seams_continue_a_periodic_texture():
    stripes = np.tile((np.arange(32) % 8 < 4).astype(np.float32), (32, 1))
    result = quilt(stripes, (64, 64), block=16, overlap=4, tolerance=0.0)
    # every row of the result is a run of 4-pixel stripes: the seams found the matching phase
    runs = np.diff(np.flatnonzero(np.diff(result[10]) != 0))
    assert np.all(runs == 4)


def test_patchmatch_finds_exact_matches_in_an_identical_image():
    image = np.random.default_rng(0).random((30, 30, 3), dtype=np.float32)
    source_ok = np.zeros((30, 30), bool)
    source_ok[2:28, 2:28] = True
    active = source_ok.copy()
    field = random_field(active, source_ok, 0)
    distances = patchmatch(image, image, source_ok, active, field, 2, 5, 0)
    found = (field[..., 0] == np.arange(30)[:, None]) & (field[..., 1] == np.arange(30)[None, :])
    assert found[active].mean() > 0.95 and np.median(distances[active]) == 0
