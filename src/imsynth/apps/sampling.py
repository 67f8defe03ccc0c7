"""Writing samples of a trained run as a grid, an .npz or a folder of PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..evaluate import generate
from ..image import atomic_path, save_grid, save_image, tensor_to_uint8
from ..train import load_run


def write_npz(out: Path, images: np.ndarray, labels: torch.Tensor | None) -> Path:
    """uint8 NxHxWxC ``images`` (+ int64 ``labels``) as a compressed .npz, atomically; loadable as ``npz:PATH``."""
    payload = {"images": images}
    if labels is not None:
        payload["labels"] = labels.numpy().astype(np.int64)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **payload)
    return out


def write_samples(run, out, *, count: int = 64, seed: int = 0, class_index: int | None = None,
                  device: str = "auto", sampling: dict | None = None) -> Path:
    """``out`` ending in .png/.jpg: one grid; .npz: uint8 NxHxWxC ``images`` + ``labels``; ending in '/'
    or an existing folder: one PNG per sample. ``sampling``: sampler options for diffusion runs
    (``sampler``, ``steps``, ``eta``, ``guidance``)."""
    if count < 1:
        raise InputError(f"-n must be at least 1, got {count}")
    model, _ = load_run(run, device=device)
    labels = None
    if class_index is not None:
        labels = model.check_labels(torch.tensor([class_index]), 1).expand(count)
    elif model.conditional:
        # one grid row per class: classes in blocks of count // classes (cycling when count < classes)
        classes = model.config.num_classes
        per_class = max(1, count // classes)
        labels = (torch.arange(count) // per_class) % classes
    images = generate(model, count, seed=seed, labels=labels, sampling=sampling)
    out_text = str(out)
    out = Path(out)
    if out.suffix.lower() == ".npz":
        return write_npz(out, tensor_to_uint8(images), labels)
    if out_text.endswith(("/", "\\")) or out.is_dir():
        out.mkdir(parents=True, exist_ok=True)
        for index, picture in enumerate(tensor_to_uint8(images)):
            save_image(out / f"sample-{index:05d}.png", picture)
        return out
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        raise InputError(f"{out}: unknown output kind; use a .png grid, an .npz file or a folder ending in /")
    nrow = None
    if model.conditional and class_index is None and count >= model.config.num_classes:
        nrow = count // model.config.num_classes
    scale = max(1, 96 // images.shape[-1])
    save_grid(out, images, nrow=nrow, scale=scale)
    return out
