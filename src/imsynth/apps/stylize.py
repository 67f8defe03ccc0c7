"""Style transfer that needs no download: Gatys-style optimisation on random multi-scale features, and the
classical texture transfer, in one table (``STYLIZERS``) and one call (``stylize``).

Gatys et al. (2016) match Gram matrices of a pretrained VGG's features; those weights cannot be fetched here.
Ustyuzhaninov et al. (2017) showed a single layer of random filters, taken at several scales, captures textures
about as well. ``imsynth.models.networks.RandomFeatures`` is that network: one layer of ``width`` random filters with ReLU at each
level of an average-pooling pyramid, He-initialised from a fixed seed. The image is optimised (Adam on its pixels, from
the content image) for ``strength`` x the style's Gram distance plus the content's feature distance, each
normalised by the target's own size so ``strength`` means the same for any pair of images.

``style_report`` measures a result with a network of another seed (so the optimisation cannot game its own
metric): the Gram distance to the style and the feature distance to the content, next to the same numbers for
the content and style images themselves.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ..classical._checks import check_image
from ..classical.style import STYLIZERS
from ..errors import InputError
from ..image import check_allocation, check_output, convert_channels, read_image, save_image
from ..models.networks import RandomFeatures, gram
from ..runtime.device import select_device
from ..tables import method


def _distances(features, targets_gram, targets_content, content_levels):
    style = sum(
        (gram(f) - g).pow(2).sum() / g.pow(2).sum().clamp_min(1e-12) for f, g in zip(features, targets_gram)
    ) / len(features)
    content = sum(
        (features[level] - targets_content[level]).pow(2).sum() / targets_content[level].pow(2).sum().clamp_min(1e-12)
        for level in content_levels
    ) / len(content_levels)
    return style, content


CONTENT_LEVELS = (1, 2)


def _channels(image: np.ndarray, channels: int) -> np.ndarray:
    """HxWxC with ``channels`` planes (grey kept as one plane)."""
    converted = convert_channels(image, channels)
    return converted if converted.ndim == 3 else converted[:, :, None]


def _tensor(image: np.ndarray, device) -> torch.Tensor:
    image = image if image.ndim == 3 else image[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float().to(device)


def gram_transfer(
    content,
    style,
    *,
    strength: float = 10.0,
    steps: int = 150,
    lr: float = 0.02,
    width: int = 64,
    scales: int = 4,
    seed: int = 0,
    device: str = "auto",
) -> np.ndarray:
    """Gatys-style transfer on ``RandomFeatures`` (see the module notes); the content's size, the style's channels."""
    content = check_image(content, where="content", min_side=4)
    style = check_image(style, where="style", min_side=4)
    if strength < 0 or steps < 1 or lr <= 0:
        raise InputError("need strength >= 0, steps >= 1 and lr > 0")
    if scales < 1 or width < 1:
        raise InputError("need scales >= 1 and width >= 1")
    flat = style.ndim == 2
    # a grey picture stored as RGB is matched as grey: Gram matching on three equal planes lets colour noise in
    replicate = 0 if flat else style.shape[2]
    if not flat and all(np.array_equal(style[:, :, 0], style[:, :, c]) for c in range(1, style.shape[2])):
        style, flat = style[:, :, 0], True
    channels = 1 if flat else style.shape[2]
    content = _channels(content, channels)
    check_allocation(content.size * width * 4, where="style transfer features")
    torch_device = select_device(device)
    net = RandomFeatures(channels, width=width, scales=scales, seed=seed).to(torch_device)
    target = _tensor(content, torch_device)
    with torch.no_grad():
        grams = [gram(f) for f in net(_tensor(style, torch_device))]
        content_features = net(target)
    levels = [level for level in CONTENT_LEVELS if level < scales] or [scales - 1]
    image = target.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([image], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        style_loss, content_loss = _distances(net(image), grams, content_features, levels)
        (strength * style_loss + content_loss).backward()
        optimiser.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    result = image.detach()[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
    if replicate and flat:
        return np.repeat(result, replicate, axis=2)
    return result[:, :, 0] if flat else result


@torch.no_grad()
def style_report(result, content, style, *, seed: int = 1) -> dict:
    """Gram distance to ``style`` and feature distance to ``content`` of ``result``, the content image and the
    style image, on random features of another seed than the optimisation's."""
    style = check_image(style, where="style", min_side=4)
    channels = 1 if style.ndim == 2 else style.shape[2]
    net = RandomFeatures(channels, seed=seed)
    grams = [gram(f) for f in net(_tensor(style, "cpu"))]
    content = _channels(check_image(content, where="content", min_side=4), channels)
    content_features = net(_tensor(content, "cpu"))
    levels = list(CONTENT_LEVELS)
    report = {}
    for name, image in (("result", result), ("content", content), ("style", style)):
        image = _channels(check_image(image, where=name, min_side=4), channels)
        features = net(_tensor(image, "cpu"))
        if name == "style":  # compare like with like: the style image at the content's size
            resized = F.interpolate(_tensor(image, "cpu"), size=content.shape[:2], mode="bilinear", align_corners=False)
            features = net(resized)
        style_distance, content_distance = _distances(features, grams, content_features, levels)
        report[name] = {"style_distance": float(style_distance), "content_distance": float(content_distance)}
    return report


STYLIZERS.add(
    method(
        "gram",
        gram_transfer,
        "optimisation against Gram statistics of random multi-scale features (Gatys 2016 without VGG)",
        options={
            "strength": "weight of the style against the content",
            "steps": "Adam steps on the pixels",
            "lr": "Adam step size",
            "width": "random filters per scale",
            "scales": "pyramid levels",
            "seed": "random filters' seed",
        },
        tags=("device",),
    )
)


def stylize(content, style, *, method_name: str = "gram", device: str = "auto", **options) -> tuple[np.ndarray, dict]:
    """``content`` redrawn in the look of ``style`` by a named method; returns the image and seconds taken."""
    entry = STYLIZERS.get(method_name)
    STYLIZERS.check_options(method_name, options)
    if "device" in entry.tags:
        options["device"] = device
    started = time.perf_counter()
    result = entry(content, style, **options)
    return result, {"seconds": round(time.perf_counter() - started, 2)}


def stylize_path(content_path, style_path, out, *, method_name: str = "gram", device: str = "auto", **options) -> dict:
    """Read CONTENT and STYLE, write the stylised image to ``out``; returns the output path and seconds."""
    out = check_output(out)
    content, _ = read_image(content_path)
    style, _ = read_image(style_path)
    content, style = (
        image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image for image in (content, style)
    )
    try:
        result, info = stylize(content, style, method_name=method_name, device=device, **options)
    except InputError as error:
        raise InputError(f"{content_path} / {style_path}: {error}") from None
    save_image(out, np.clip(result, 0, 1))
    return {"out": str(out), "method": method_name, **info}
