"""``translate``: images of one domain into the other with a trained translation run (pix2pix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..image import read_image, save_image
from ..models import Translator, load_run
from ..runtime.tensors import numpy_to_tensor, tensor_to_numpy
from .restore import _file_pairs


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A grey image for a grey domain, RGB for an RGB one (luminance or replication; alpha dropped)."""
    image = image if image.ndim == 3 else image[:, :, None]
    image = image[:, :, :3] if image.shape[2] == 4 else image
    if image.shape[2] == channels:
        return image
    if channels == 1:
        return image.mean(axis=2, keepdims=True)
    return np.repeat(image.mean(axis=2, keepdims=True), channels, axis=2)


@torch.no_grad()
def translate_images(model, images: list[np.ndarray], *, direction: str = "a2b") -> list[np.ndarray]:
    """Translate float [0, 1] images (HxW or HxWxC, any size) with a ``Translator``."""
    if not isinstance(model, Translator):
        raise InputError(f"model {getattr(model, 'registered_name', '?')!r} does not translate images (pix2pix does)")
    channels = model.config.input_channels if direction == "a2b" else model.config.output_channels
    device = next(model.parameters()).device
    results = []
    for image in images:
        tensor = numpy_to_tensor(_channels(image, channels)).to(device)
        output = tensor_to_numpy(model.translate(tensor, direction).float())[0]
        results.append(output[:, :, 0] if output.shape[2] == 1 else output)
    return results


def translate_path(source, out, run, *, direction: str = "a2b", device: str = "auto") -> dict:
    """Translate an image or every image of a folder; outputs are written as the suffix says (PNG in folders)."""
    pairs, out = _file_pairs(Path(source), out)
    model, _ = load_run(run, device=device)
    for image_path, target in pairs:
        image, _ = read_image(image_path)
        try:
            (result,) = translate_images(model, [image], direction=direction)
        except InputError as error:
            raise InputError(f"{image_path}: {error}") from None
        save_image(target, result)
    return {"files": len(pairs), "out": str(out), "direction": direction}
