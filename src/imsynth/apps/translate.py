"""``translate``: images of one domain into the other with a trained translation run (pix2pix, cyclegan)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..image import all_or_nothing, convert_channels, file_pairs, read_image, save_image
from ..models import Translator, load_run
from ..runtime.tensors import numpy_to_tensor, tensor_to_image


@torch.no_grad()
def translate_images(model, images: list[np.ndarray], *, direction: str = "a2b") -> list[np.ndarray]:
    """Translate float [0, 1] images (HxW or HxWxC, any size; converted to the input domain's channels)."""
    if not isinstance(model, Translator):
        raise InputError(
            f"model {getattr(model, 'registered_name', '?')!r} does not translate images (pix2pix and cyclegan do)"
        )
    channels = model.config.input_channels if direction == "a2b" else model.config.output_channels
    out_channels = model.config.output_channels if direction == "a2b" else model.config.input_channels
    device = next(model.parameters()).device
    results = []
    for image in images:
        output = model.translate(numpy_to_tensor(convert_channels(image, channels)).to(device), direction)
        like = np.empty(image.shape[:2] if out_channels == 1 else (*image.shape[:2], out_channels))
        results.append(tensor_to_image(output.float(), like))
    return results


def translate_path(source, out, run, *, direction: str = "a2b", device: str = "auto") -> dict:
    """Translate an image or every image of a folder (mirrored, PNG) into ``out``."""
    pairs, out = file_pairs(source, out)
    model, _ = load_run(run, device=device)
    with all_or_nothing() as batch:
        for image_path, target in pairs:
            image, _ = read_image(image_path)
            try:
                (result,) = translate_images(model, [image], direction=direction)
            except InputError as error:
                raise InputError(f"{image_path}: {error}") from None
            save_image(batch.path(target), result)
    return {"files": len(pairs), "out": str(out), "direction": direction}
