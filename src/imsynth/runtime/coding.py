"""Entropy coding that writes real bits: integer symbols under categorical or quantised-Gaussian models,
coded with constriction's ANS coder (a Rust library on PyPI, so there is no C++ extension to go missing).

A codec writes groups of symbols in the order its decoder will need them (a hyperprior's side information
first) and reads them back in that order; ANS is a stack, so ``SymbolWriter`` buffers the groups and encodes
them in reverse when it finishes.

Determinism: the decoder must see exactly the encoder's distributions. Every distribution handed to the coder
is therefore built from values snapped to a coarse grid (probabilities to multiples of 2^-24, Gaussian scales
to the fixed ``SCALES`` table by index), so a last-bit difference in floating point cannot move them except at
a grid boundary, and a codec checksums what it fed the coder (``Checksum``) so such a case is reported rather
than decoded into garbage.
"""

from __future__ import annotations

import zlib

import constriction
import numpy as np

from ..errors import InputError

ALPHABET = 255
"""Every coded symbol is an integer in [-ALPHABET, ALPHABET]; codecs clamp their latents to it."""

PROBABILITY_GRID = 2.0**-24

# Gaussian scales are coded by index into this fixed table: 256 steps of 3.1% from 0.11 to 256, each snapped to
# a multiple of 2^-16. Coding with a scale up to one step too large costs at most log(r) + 1/(2r^2) - 1/2 nats per
# symbol (r the step ratio; computed, not measured): 0.02 bit for CompressAI's 64 steps of 13%, 0.0013 bit here.
SCALES = np.round(np.exp(np.linspace(np.log(0.11), np.log(256.0), 256)) * 2.0**16) / 2.0**16
SCALE_MIN = float(SCALES[0])


class StreamError(InputError):
    """A compressed stream that cannot be decoded: damaged, truncated, or made by a different model."""


def scale_indices(scales: np.ndarray) -> np.ndarray:
    """Index of the first table scale >= each scale (float64 on the CPU, so encoder and decoder agree)."""
    return np.searchsorted(SCALES, np.asarray(scales, dtype=np.float64)).clip(0, len(SCALES) - 1).astype(np.int32)


def snap_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities (..., 2 * ALPHABET + 1) snapped to multiples of 2^-24 (see the module notes)."""
    return np.round(np.asarray(probabilities, dtype=np.float64) / PROBABILITY_GRID) * PROBABILITY_GRID


_GAUSSIAN = constriction.stream.model.QuantizedGaussian(-ALPHABET, ALPHABET)


def _symbols(values: np.ndarray) -> np.ndarray:
    symbols = np.ascontiguousarray(values, dtype=np.int32).reshape(-1)
    if symbols.size and (symbols.min() < -ALPHABET or symbols.max() > ALPHABET):
        raise ValueError(f"symbols must lie in [-{ALPHABET}, {ALPHABET}]")  # a codec bug, not a user error
    return symbols


class SymbolWriter:
    """Collects symbol groups; ``finish`` returns the ANS-coded payload (whole 32-bit words)."""

    def __init__(self) -> None:
        self._groups: list[tuple] = []

    def categorical(self, symbols: np.ndarray, probabilities: np.ndarray) -> None:
        """Symbols sharing one distribution over [-ALPHABET, ALPHABET] (``probabilities``, snapped)."""
        model = constriction.stream.model.Categorical(probabilities, perfect=False)
        self._groups.append((_symbols(symbols) + ALPHABET, model))

    def gaussian(self, symbols: np.ndarray, indices: np.ndarray) -> None:
        """Symbols each under a zero-mean quantised Gaussian whose scale is ``SCALES[index]``."""
        symbols = _symbols(symbols)
        scales = SCALES[np.asarray(indices).reshape(-1)]
        self._groups.append((symbols, _GAUSSIAN, np.zeros(len(symbols)), scales))

    def finish(self) -> bytes:
        coder = constriction.stream.stack.AnsCoder()
        for symbols, model, *parameters in reversed(self._groups):
            if len(symbols):
                coder.encode_reverse(symbols, model, *parameters)
        return coder.get_compressed().astype("<u4").tobytes()


class SymbolReader:
    """Decodes the groups a ``SymbolWriter`` wrote, in the same order and with the same distributions."""

    def __init__(self, payload: bytes) -> None:
        if len(payload) % 4:
            raise StreamError("the payload is not a whole number of 32-bit words (truncated?)")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._coder = constriction.stream.stack.AnsCoder(words)

    def categorical(self, count: int, probabilities: np.ndarray) -> np.ndarray:
        if count == 0:
            return np.zeros(0, dtype=np.int32)
        model = constriction.stream.model.Categorical(probabilities, perfect=False)
        return self._decode(model, count) - ALPHABET

    def gaussian(self, indices: np.ndarray) -> np.ndarray:
        scales = SCALES[np.asarray(indices).reshape(-1)]
        if not len(scales):
            return np.zeros(0, dtype=np.int32)
        return self._decode(_GAUSSIAN, np.zeros(len(scales)), scales)

    def _decode(self, model, *parameters) -> np.ndarray:
        try:
            return np.asarray(self._coder.decode(model, *parameters), dtype=np.int32)
        except Exception as error:  # constriction raises plain exceptions on an exhausted or invalid stream
            raise StreamError(f"the payload does not decode ({error})") from None

    def finish(self) -> None:
        """Every word must have been used: leftovers mean the stream and the model disagree."""
        if not self._coder.is_empty():
            raise StreamError("the payload has data left over after decoding (made by a different model?)")


class Checksum:
    """CRC32 over what a codec fed the coder (probability tables, scale indices), compared by the decoder."""

    def __init__(self) -> None:
        self.value = 0

    def add(self, array: np.ndarray) -> None:
        self.value = zlib.crc32(np.ascontiguousarray(array).tobytes(), self.value)
