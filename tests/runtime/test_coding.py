"""The entropy coder: exact round trips and a payload as long as the information content."""

import numpy as np
import pytest

from imsynth.runtime.coding import (
    ALPHABET,
    SCALES,
    StreamError,
    SymbolReader,
    SymbolWriter,
    scale_indices,
    snap_probabilities,
)


def test_groups_round_trip_in_order_with_their_own_distributions():
    rng = np.random.default_rng(0)
    table = snap_probabilities(np.exp(-0.5 * (np.arange(-ALPHABET, ALPHABET + 1) / 4.0) ** 2))
    categorical = rng.integers(-12, 13, 500)
    extremes = np.array([-ALPHABET, ALPHABET, 0, ALPHABET])
    indices = rng.integers(0, len(SCALES), 700)
    gaussian = np.clip(np.round(rng.normal(0, SCALES[indices])), -ALPHABET, ALPHABET).astype(int)
    writer = SymbolWriter()
    writer.categorical(categorical, table)
    writer.gaussian(gaussian, indices)
    writer.categorical(extremes, table)
    reader = SymbolReader(writer.finish())
    assert np.array_equal(reader.categorical(500, table), categorical)
    assert np.array_equal(reader.gaussian(indices), gaussian)
    assert np.array_equal(reader.categorical(4, table), extremes)
    reader.finish()


def test_payload_matches_the_information_content():
    rng = np.random.default_rng(1)
    scale = 3.0
    index = scale_indices(np.array([scale]))[0]
    symbols = np.round(rng.normal(0, SCALES[index], 50_000)).astype(int)
    writer = SymbolWriter()
    writer.gaussian(symbols, np.full(len(symbols), index))
    bits = 8 * len(writer.finish())
    from scipy.stats import norm

    sigma = SCALES[index]
    information = -np.log2(norm.cdf((symbols + 0.5) / sigma) - norm.cdf((symbols - 0.5) / sigma)).sum()
    assert abs(bits - information) <= 0.001 * information + 64


def test_scale_indices_pick_the_first_table_scale_not_below():
    scales = np.array([0.0, 0.11, 0.5, 3.0, 1e6])
    indices = scale_indices(scales)
    assert indices[0] == 0 and indices[-1] == len(SCALES) - 1
    assert all(SCALES[i] >= s for i, s in zip(indices[1:4], scales[1:4]))
    assert all(SCALES[i - 1] < s for i, s in zip(indices[1:4], scales[1:4]) if i > 0)


def test_symbols_outside_the_alphabet_are_a_bug_not_a_silent_clamp():
    with pytest.raises(ValueError, match="must lie in"):
        SymbolWriter().gaussian(np.array([ALPHABET + 1]), np.array([3]))


def test_damaged_payloads_are_refused():
    writer = SymbolWriter()
    writer.gaussian(np.arange(-5, 5), np.full(10, 40))
    payload = writer.finish()
    with pytest.raises(StreamError, match="32-bit words"):
        SymbolReader(payload[:-1])
    reader = SymbolReader(payload + payload)
    reader.gaussian(np.full(10, 40))
    with pytest.raises(StreamError, match="left over"):
        reader.finish()
