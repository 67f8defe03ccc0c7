"""The image sets the apps write: uint8 images with their labels and any further arrays, in one .npz that
``npz:PATH`` loads again (its own module, so that writing one imports no model code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..image import save_npz


def write_npz(out: Path, images: np.ndarray, labels=None, **arrays: np.ndarray) -> Path:
    """uint8 NxHxWxC ``images`` (+ ``labels``, an array or a CPU tensor, stored as int64, + any further named
    ``arrays``) as a compressed .npz, atomically."""
    payload = {"images": images, **arrays}
    if labels is not None:
        payload["labels"] = np.asarray(labels).astype(np.int64)
    return save_npz(out, **payload)
