"""Corruptions of model batches: NCHW tensors in [-1, 1] damaged by the numpy corruptions of
``imsynth.classical.corrupt``, one kind and severity per image, each drawn from that image's seed.

The numpy kinds run on the CPU (JPEG needs an encoder anyway): the full nine-kind mix at severities 1-5 took
0.23 ms per 28x28 Fashion-MNIST image here, against about 8.5 ms per image of a dvae training step (118 img/s on
one core).
"""

from __future__ import annotations

import numpy as np
import torch

from ..classical.corrupt import MAX_SEVERITY, check_severity, corrupt, parse_kinds
from ..errors import ConfigError, InputError
from ..runtime.tensors import numpy_to_tensor, tensor_to_numpy


def parse_severities(text: str | int | tuple | list) -> tuple[int, ...]:
    """``"3"``, ``"1-5"``, ``"1,3,5"`` or a sequence -> checked severities."""
    if isinstance(text, int):
        values = [text]
    elif isinstance(text, (tuple, list)):
        values = list(text)
    else:
        values = []
        for part in str(text).split(","):
            low, _, high = part.strip().partition("-")
            try:
                values += list(range(int(low), int(high) + 1)) if high else [int(low)]
            except ValueError:
                raise InputError(f"severities look like 3, 1-5 or 1,3,5 (0 to {MAX_SEVERITY}); got {text!r}") from None
    if not values:
        raise InputError(f"no severity in {text!r}")
    return tuple(check_severity(value) for value in values)


def check_mix(kinds: str, severities: str) -> None:
    """Raise ConfigError when a comma-separated kind list or a severity spec is invalid (for model configs)."""
    try:
        for kind in kinds.split(","):
            parse_kinds(kind)
        parse_severities(severities)
    except InputError as error:
        raise ConfigError(str(error)) from None


def corrupt_batch(
    images: torch.Tensor,
    kinds: str | list[str] = "gaussian",
    severities: str | tuple[int, ...] = 3,
    *,
    seeds: torch.Tensor | list[int] | int = 0,
) -> torch.Tensor:
    """Damage ``images`` (B, C, H, W) in [-1, 1]: image i gets a kind from ``kinds`` (a comma-separated list or
    a list; ``a+b`` composes) and a severity from ``severities``, both drawn from ``seeds[i]`` (an int: seeds
    ``seed, seed+1, ...``). Same device and dtype out; reproducible for the same seeds."""
    choices = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    for choice in choices:
        parse_kinds(choice)
    levels = parse_severities(severities)
    if isinstance(seeds, int):
        seeds = list(range(seeds, seeds + len(images)))
    seeds = [int(s) for s in (seeds.tolist() if isinstance(seeds, torch.Tensor) else seeds)]
    if len(seeds) != len(images):
        raise InputError(f"{len(seeds)} seeds for {len(images)} images")
    pixels = tensor_to_numpy(images)
    out = np.empty_like(pixels)
    for index, (image, seed) in enumerate(zip(pixels, seeds)):
        rng = np.random.default_rng(seed)
        kind = choices[int(rng.integers(len(choices)))]
        severity = levels[int(rng.integers(len(levels)))]
        out[index] = corrupt(image, kind, severity, seed=int(rng.integers(2**31)))
    return numpy_to_tensor(out).to(device=images.device, dtype=images.dtype)
