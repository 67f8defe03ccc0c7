"""Latent-space exploration for any model with a Gaussian latent (GANs, VAEs, and diffusion models, whose
latent is the initial noise x_T decoded by deterministic DDIM).

A model qualifies by offering ``latent_dim`` and ``decode_latents(z, labels)``; ``pca`` also needs
``latent_features(z, labels)`` (its first hidden layer). Modes:
- ``lerp`` / ``slerp``: rows of interpolations between random codes (a grid), or a loop through several
  codes (a GIF);
- ``walk``: a random walk that stays on the shell where Gaussian codes live (norm ~ sqrt(d));
- ``pca``: principal directions in the spirit of GANSpace (Härkönen et al. 2020): PCA of the first hidden
  layer over many random codes, each component carried back to latent space by least squares; one grid row
  per direction, moving from -span to +span standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..clips import save_gif
from ..errors import InputError
from ..image import check_allocation, check_output
from ..models import LatentFeatures, LatentModel, TextGenerator, load_run
from ..models.vae import interpolate_latents
from ..runtime.tensors import save_tensor_grid, tensor_to_uint8
from .text import homotopy, require_text_model

MODES = ("lerp", "slerp", "walk", "pca")


def _require_latent_model(model, *, features: bool = False) -> None:
    if not isinstance(model, LatentModel):
        raise InputError(f"model {model.registered_name!r} has no Gaussian latent space to explore")
    if features and not isinstance(model, LatentFeatures):
        raise InputError(
            f"pca directions need a generator's first hidden layer (GAN or VAE runs); model "
            f"{model.registered_name!r} supports --mode lerp, slerp and walk"
        )


def _codes(model, count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(count, model.latent_dim, generator=generator)


@torch.no_grad()
def decode(model, latents: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int = 256) -> torch.Tensor:
    """Images (N, C, H, W) on the CPU for codes (N, d), in batches."""
    chunks = []
    for start in range(0, len(latents), batch_size):
        part = None if labels is None else labels[start : start + batch_size]
        chunks.append(model.decode_latents(latents[start : start + batch_size], part).float().cpu())
    return torch.cat(chunks)


def interpolation_codes(model, rows: int, steps: int, *, mode: str = "slerp", seed: int = 0) -> torch.Tensor:
    """(rows * steps, d): each row runs from one random code to another."""
    if steps < 2:
        raise InputError(f"an interpolation needs at least 2 steps, got {steps}")
    generator = torch.Generator().manual_seed(seed)
    ends = _codes(model, 2 * rows, generator)
    return torch.cat([interpolate_latents(ends[2 * r], ends[2 * r + 1], steps, mode=mode) for r in range(rows)])


def loop_codes(model, keys: int, steps: int, *, mode: str = "slerp", seed: int = 0) -> torch.Tensor:
    """A closed path through ``keys`` random codes, ``steps`` frames per leg (for an animation)."""
    generator = torch.Generator().manual_seed(seed)
    points = _codes(model, max(2, keys), generator)
    legs = [
        interpolate_latents(points[i], points[(i + 1) % len(points)], steps + 1, mode=mode)[:-1]
        for i in range(len(points))
    ]
    return torch.cat(legs)


def random_walk_codes(model, frames: int, *, step_size: float = 0.15, rows: int = 1, seed: int = 0) -> torch.Tensor:
    """(frames, rows, d): Gaussian steps, each renormalised to the starting norm so codes stay typical."""
    generator = torch.Generator().manual_seed(seed)
    z = _codes(model, rows, generator)
    radius = z.norm(dim=1, keepdim=True)
    path = [z]
    for _ in range(frames - 1):
        z = z + step_size * _codes(model, rows, generator)
        z = z / z.norm(dim=1, keepdim=True) * radius
        path.append(z)
    return torch.stack(path)


@dataclass
class Directions:
    vectors: torch.Tensor  # (k, d) unit directions in latent space
    explained_variance: torch.Tensor  # (k,) share of the feature variance of each component
    latent_std: torch.Tensor  # (k,) standard deviation of random codes along each direction


@torch.no_grad()
def principal_directions(
    model, *, components: int = 8, samples: int = 2000, seed: int = 0, labels: torch.Tensor | None = None
) -> Directions:
    """GANSpace-style directions: PCA on the first hidden layer, regressed back onto the latent codes."""
    _require_latent_model(model, features=True)
    if components < 1:
        raise InputError(f"need at least one direction, got {components}")
    generator = torch.Generator().manual_seed(seed)
    z = _codes(model, samples, generator)
    feature_chunks = []
    for start in range(0, samples, 500):
        part = None if labels is None else labels[start : start + 500]
        feature_chunks.append(model.latent_features(z[start : start + 500], part).float().cpu())
    features = torch.cat(feature_chunks).double()
    features -= features.mean(dim=0)
    components = min(components, samples - 1, features.shape[1], model.latent_dim)
    _, singular, basis = torch.linalg.svd(features, full_matrices=False)
    coordinates = features @ basis[:components].T  # (N, k)
    coordinates /= coordinates.std(dim=0)
    # each component's latent direction: the least-squares map from its coordinate back to z
    mapping = torch.linalg.lstsq(coordinates, z.double()).solution  # (k, d)
    vectors = mapping / mapping.norm(dim=1, keepdim=True)
    variance = singular.pow(2)
    return Directions(
        vectors.float(), (variance[:components] / variance.sum()).float(), (z.double() @ vectors.T).std(dim=0).float()
    )


def direction_codes(
    model, directions: Directions, *, values: int = 7, span: float = 2.0, seed: int = 0
) -> torch.Tensor:
    """(k * values, d): one random code moved along each direction from -span to +span std."""
    generator = torch.Generator().manual_seed(seed)
    base = _codes(model, 1, generator)[0]
    steps = torch.linspace(-span, span, values)
    rows = [base + (steps[:, None] * std) * vector for vector, std in zip(directions.vectors, directions.latent_std)]
    return torch.cat(rows)


def move_along(model, directions: Directions, amounts, *, seed: int = 0, class_index: int | None = None) -> np.ndarray:
    """One image (uint8 HxWxC): the code ``direction_codes`` starts from for ``seed``, moved ``amounts[i]``
    latent standard deviations along direction ``i`` (a slider per direction in the studio)."""
    _require_latent_model(model)
    amounts = [float(a) for a in amounts]
    if len(amounts) > len(directions.vectors):
        raise InputError(f"{len(amounts)} amounts for {len(directions.vectors)} directions")
    code = _codes(model, 1, torch.Generator().manual_seed(seed))[0]
    for amount, vector, std in zip(amounts, directions.vectors, directions.latent_std):
        code = code + amount * std * vector
    return tensor_to_uint8(decode(model, code[None], _fixed_labels(model, class_index, 1)))[0]


def explore(
    model,
    out: str | Path,
    *,
    mode: str = "slerp",
    rows: int = 6,
    steps: int = 8,
    frames: int = 48,
    components: int = 8,
    span: float = 2.0,
    seed: int = 0,
    class_index: int | None = None,
    duration_ms: int = 80,
) -> dict:
    """Write a grid (.png) or an animation (.gif) exploring ``model``'s latent space; returns what was made."""
    _require_latent_model(model)
    if mode not in MODES:
        raise InputError(f"unknown explore mode {mode!r}; valid: {', '.join(MODES)}")
    out = check_output(out, suffixes=(".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".gif"))
    animated = out.suffix.lower() == ".gif"
    if min(rows, steps, frames) < 1:
        raise InputError("--rows, --steps and --frames must be >= 1")
    count = (frames if animated else rows * steps) if mode != "pca" else components * steps
    config = model.config
    check_allocation(count * config.channels * config.image_size**2, where=f"{count} images")
    info: dict = {"mode": mode, "out": str(out)}
    if mode == "pca":
        if animated:
            raise InputError("pca directions are shown as a grid: use a .png output")
        directions = principal_directions(
            model, components=components, seed=seed, labels=_fixed_labels(model, class_index, 2000)
        )
        codes = direction_codes(model, directions, values=steps, span=span, seed=seed)
        info["explained_variance"] = [round(float(v), 4) for v in directions.explained_variance]
        nrow = steps
    elif mode == "walk":
        path = random_walk_codes(model, frames if animated else steps, rows=1 if animated else rows, seed=seed)
        codes = path[:, 0] if animated else path.transpose(0, 1).reshape(-1, model.latent_dim)
        nrow = steps
    elif animated:
        codes = loop_codes(model, max(2, rows), max(2, frames // max(2, rows)), mode=mode, seed=seed)
        nrow = steps
    else:
        codes = interpolation_codes(model, rows, max(2, steps), mode=mode, seed=seed)
        nrow = max(2, steps)
    images = decode(model, codes, _fixed_labels(model, class_index, len(codes)))
    scale = max(1, 96 // images.shape[-1])
    if animated:
        frames_uint8 = tensor_to_uint8(images)
        if scale > 1:
            frames_uint8 = frames_uint8.repeat(scale, axis=1).repeat(scale, axis=2)
        save_gif(out, list(frames_uint8), duration_ms=duration_ms)
        info["frames"] = len(frames_uint8)
    else:
        save_tensor_grid(out, images, nrow=nrow, scale=scale)
        info["images"] = len(images)
    return info


def _fixed_labels(model, class_index: int | None, count: int) -> torch.Tensor | None:
    """One class for the whole exploration (class 0 for a conditional model when none is given)."""
    if class_index is None and model.conditional:
        class_index = 0
    return model.class_labels(count, class_index=class_index)


def explore_run(
    run,
    out=None,
    *,
    start: str | None = None,
    end: str | None = None,
    mode: str = "slerp",
    rows: int = 6,
    steps: int = 8,
    frames: int = 48,
    components: int = 8,
    span: float = 2.0,
    seed: int = 0,
    class_index: int | None = None,
    device: str = "auto",
) -> dict | list[str]:
    """``explore`` for a run folder: an image run writes ``out``; a text-vae run returns the sentences along the
    path between ``start`` and ``end`` (a prior draw where missing)."""
    model, _ = load_run(run, device=device)
    if isinstance(model, TextGenerator):
        require_text_model(model, run, encoder=True)
        return homotopy(model, start, end, steps=steps, mode=mode, seed=seed)
    if start is not None or end is not None:
        raise InputError(f"{run}: --from and --to are sentences for text runs; this is an image run")
    if out is None:
        raise InputError(f"{run}: an image run needs -o (a .png grid or a .gif animation)")
    return explore(
        model,
        out,
        mode=mode,
        rows=rows,
        steps=steps,
        frames=frames,
        components=components,
        span=span,
        seed=seed,
        class_index=class_index,
    )
