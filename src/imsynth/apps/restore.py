"""Restoration: classical denoisers and the purifiers of trained runs (``imsynth.apps.purify``, the same ones the
robustness defences use), one table (``RESTORERS``), on arrays, files and folders.

Model methods (``needs`` = model) take a loaded run:
- ``encode-decode``: a VAE's posterior mean decoded (any run with an encoder; the denoising VAE ``dvae`` is
  trained for exactly this);
- ``projection``: the closest image the generator can make, by inversion from the damaged image (Defense-GAN's
  projection; any run with a Gaussian latent);
- ``diffusion``: noise to t* and run the reverse process (SDEdit / DiffPure); t* from ``strength``, the damage as
  a noise standard deviation, estimated from each batch when not given.
``restore`` picks the method a run supports when none is named. Classical methods run image by image.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity
from tqdm import tqdm

from ..classical.corrupt import corrupt
from ..classical.denoise import DENOISERS, denoise, noise_sigma
from ..data import load_dataset
from ..errors import InputError
from ..image import READABLE_SUFFIXES, all_or_nothing, check_output, file_pairs, output_depth, read_image, save_image
from ..models import GenerativeModel, load_run
from ..runtime.tensors import numpy_to_tensor, tensor_to_numpy, uint8_to_nhwc
from ..tables import Table
from .npz import write_npz
from .purify import PURIFIERS, method_for

# the classical denoisers and the purifiers of trained runs: ``imsynth denoise``'s methods
RESTORERS = Table.union(DENOISERS.family, DENOISERS, PURIFIERS)


def _purified(images: np.ndarray, entry, model: GenerativeModel, options: dict, batch_size: int = 256) -> np.ndarray:
    """A purifier over a batch (N, H, W, C) float [0, 1]. A diffusion purifier not told the damage gets it
    measured from the images (the median noise estimate; at least 0.02 so t* > 0)."""
    if entry.option("strength") is not None and options.get("strength") is None:
        options = {**options, "strength": max(float(np.median([noise_sigma(image) for image in images])), 0.02)}
    model.check_images((images.shape[-1], *images.shape[1:3]))
    batch = (numpy_to_tensor(images).to(next(model.parameters()).device) + 1) / 2
    purify = entry(model=model, **options).purify
    with torch.no_grad():
        out = torch.cat([purify(batch[i : i + batch_size]) for i in range(0, len(batch), batch_size)])
    return tensor_to_numpy(out * 2 - 1)


def restore(
    images: np.ndarray | list[np.ndarray],
    method_name: str | None = None,
    *,
    model: GenerativeModel | None = None,
    progress: bool = False,
    **options,
) -> list[np.ndarray]:
    """Restore images (a list of HxW/HxWxC float [0, 1], or an N x H x W x C array) by ``method_name`` (default:
    ``nl-means``, or the run's own method when ``model`` is given). Returns a list, shapes as given."""
    name = method_name or (method_for(model) if model is not None else "nl-means")
    entry = RESTORERS.get(name)
    RESTORERS.check_options(name, options)
    if "model" in entry.needs:
        if model is None:
            raise InputError(f"method {name!r} needs a trained run: give --model RUN")
        shapes = [np.shape(image) for image in images]
        batch = np.stack([image[:, :, None] if np.ndim(image) == 2 else image for image in images]).astype(np.float32)
        out = _purified(batch, entry, model, options)
        return [result.reshape(shape) for result, shape in zip(out, shapes)]
    if model is not None:
        raise InputError(f"method {name!r} is classical; drop --model (or choose a model method)")
    bar = tqdm(images, desc=name, unit="image", leave=False, disable=not (progress and sys.stderr.isatty()))
    return [denoise(image, name, **options) for image in bar]


def score_restoration(restored: np.ndarray, clean: np.ndarray) -> dict:
    """Mean PSNR (dB) and SSIM of restored images against the clean ones (N x H x W x C, [0, 1])."""
    errors = ((restored.astype(np.float64) - clean) ** 2).reshape(len(clean), -1).mean(axis=1)
    psnr = 10 * np.log10(1 / np.maximum(errors, 1e-10))
    ssim = [
        structural_similarity(a, b, channel_axis=-1, data_range=1.0, win_size=min(7, min(a.shape[:2]) // 2 * 2 - 1))
        for a, b in zip(restored, clean)
    ]
    return {"psnr": float(psnr.mean()), "ssim": float(np.mean(ssim)), "images": len(clean)}


def denoise_dataset(source: str, out, *, method_name=None, run=None, device: str = "auto", **options) -> dict:
    """Restore the test split of an ``npz:`` made by ``imsynth corrupt`` (damaged images + clean originals),
    write the restored images as an .npz and score them (PSNR/SSIM of input and output against the originals)."""
    out = check_output(str(out).removeprefix("npz:"), suffixes=(".npz",))
    data = load_dataset(source)
    if "clean_test" not in data.extra:
        raise InputError(
            f"{source.removeprefix('npz:')}: no clean originals ('clean'/'clean_test' arrays) to score against; "
            "make the file with `imsynth corrupt DATASET -o FILE.npz`"
        )
    model = load_run(run, device=device)[0] if run is not None else None
    damaged = uint8_to_nhwc(data.test_images).astype(np.float32) / 255
    clean = uint8_to_nhwc(data.extra["clean_test"]).astype(np.float32) / 255
    restored = np.stack(restore(list(damaged), method_name, model=model, progress=True, **options))
    restored = restored.reshape(damaged.shape)
    labels = None if data.test_labels is None else data.test_labels
    write_npz(out, np.round(restored * 255).astype(np.uint8), labels, clean=np.round(clean * 255).astype(np.uint8))
    return {"out": str(out), "input": score_restoration(damaged, clean), "restored": score_restoration(restored, clean)}


def denoise_path(
    source,
    out,
    *,
    method_name: str | None = None,
    run=None,
    device: str = "auto",
    bit_depth: int | str = "auto",
    **options,
) -> Path:
    """Restore an image file or every image of a folder into ``out`` (a file, or a folder for a folder)."""
    pairs, out = file_pairs(source, out)
    model = load_run(run, device=device)[0] if run is not None else None
    pictures = [read_image(file) for file, _ in pairs]
    if model is not None and len({image.shape for image, _ in pictures}) > 1:
        raise InputError(f"{source}: images of different sizes; a model restores one size at a time")
    restored = restore([image for image, _ in pictures], method_name, model=model, progress=True, **options)
    with all_or_nothing() as batch:
        for (_, target), (_, depth), image in zip(pairs, pictures, restored):
            save_image(batch.path(target), image, bit_depth=output_depth(target, bit_depth, depth))
    return out


def corrupt_path(
    source: str,
    out,
    *,
    kind: str = "gaussian",
    severity: int = 3,
    seed: int = 0,
    limit: int | None = None,
    bit_depth: int | str = "auto",
) -> Path:
    """Damage an image file, a folder of images, or a dataset (a name ``imsynth datasets`` lists). A dataset is
    written as an ``.npz`` holding the damaged ``images``/``images_test``, the ``clean``/``clean_test``
    originals and the labels (read it back with ``--data npz:OUT``); files and folders as images."""
    path = Path(source)
    if path.exists():
        pairs, out = file_pairs(path, out)
        with all_or_nothing() as batch:
            for index, (file, target) in enumerate(pairs):
                image, depth = read_image(file)
                damaged = corrupt(image, kind, severity, seed=seed + index)
                save_image(batch.path(target), damaged, bit_depth=output_depth(target, bit_depth, depth))
        return out
    if path.suffix.lower() in READABLE_SUFFIXES or "/" in source:
        raise InputError(f"{source}: no such file or folder")
    data = load_dataset(source, limit=limit)
    out = check_output(str(out).removeprefix("npz:"), suffixes=(".npz",))
    payload = {}
    for split, images, labels in (
        ("", data.train_images, data.train_labels),
        ("_test", data.test_images, data.test_labels),
    ):
        clean = uint8_to_nhwc(images)
        floats = clean.astype(np.float32) / 255
        offset = 0 if not split else 10**9  # train and test get different seeds
        damaged = np.stack([corrupt(image, kind, severity, seed=seed + offset + i) for i, image in enumerate(floats)])
        payload["images" + split] = np.round(damaged * 255).astype(np.uint8)
        payload["clean" + split] = clean
        if labels is not None:
            payload["labels" + split] = labels.numpy().astype(np.int64)
    labels = payload.pop("labels", None)
    write_npz(out, payload.pop("images"), labels, **payload)
    return out


def denoise_source(
    source, out, *, method_name=None, run=None, device: str = "auto", bit_depth: int | str = "auto", **options
) -> Path | dict:
    """``denoise_dataset`` for an ``npz:`` source (returns PSNR/SSIM), else ``denoise_path``."""
    if str(source).startswith("npz:"):
        return denoise_dataset(str(source), out, method_name=method_name, run=run, device=device, **options)
    return denoise_path(source, out, method_name=method_name, run=run, device=device, bit_depth=bit_depth, **options)
