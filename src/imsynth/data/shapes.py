"""``shapes``: a procedural dSprites-like dataset whose generative factors are known exactly.

Factors (index ranges): shape 3 (square, ellipse, heart), scale 6, rotation 40, x 32, y 32 — 737,280
combinations, each rendered on demand (64x64 grey, 2x2 supersampled edges), so disentanglement metrics can
draw images with any factor held fixed without storing the grid.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import DatasetSpec, Factors, ImageDataset, register

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")
SIZE = 64
SUPERSAMPLE = 2
WINDOW = 28


def factor_values(indices: np.ndarray) -> dict[str, np.ndarray]:
    """Integer factor indices (N x 5) -> physical values."""
    indices = np.asarray(indices)
    return {
        "shape": indices[:, 0],
        "scale": np.linspace(0.5, 1.0, FACTOR_SIZES[1])[indices[:, 1]],
        "rotation": np.linspace(0.0, 2 * np.pi, FACTOR_SIZES[2], endpoint=False)[indices[:, 2]],
        "x": np.linspace(0.0, 1.0, FACTOR_SIZES[3])[indices[:, 3]],
        "y": np.linspace(0.0, 1.0, FACTOR_SIZES[4])[indices[:, 4]],
    }


def _inside(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind == 0:
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if kind == 1:
        return u**2 + (v / 0.5) ** 2 <= 1.0
    hu, hv = u * 1.15, v * 1.15 + 0.15
    return (hu**2 + hv**2 - 1.0) ** 3 - hu**2 * hv**3 <= 0.0


def render_shapes(indices: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
    """Render images for factor indices (N x 5 ints) -> uint8 N x 64 x 64."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1, 5)
    for column, size in enumerate(FACTOR_SIZES):
        if indices.size and (indices[:, column].min() < 0 or indices[:, column].max() >= size):
            raise ValueError(f"factor {FACTOR_NAMES[column]} index out of range [0, {size})")
    # Each shape fits in a WINDOW-pixel square around its centre (radius <= 10 px, so the rotated square's
    # half-diagonal is < 12 px): render only that window, onto a canvas padded by half a window.
    half = WINDOW // 2
    canvas = np.zeros((len(indices), SIZE + WINDOW, SIZE + WINDOW), dtype=np.uint8)
    offsets = (np.arange(WINDOW * SUPERSAMPLE, dtype=np.float32) + 0.5) / SUPERSAMPLE - half
    for start in range(0, len(indices), chunk):
        part = indices[start : start + chunk]
        values = factor_values(part)
        centre_x = 12.0 + values["x"] * 40.0
        centre_y = 12.0 + values["y"] * 40.0
        left, top = np.round(centre_x).astype(int), np.round(centre_y).astype(int)
        radius = (values["scale"] * 10.0).astype(np.float32)[:, None, None]
        # window pixel centres relative to the shape centre, in units of the shape radius
        dx = (offsets[None, None, :] + (left - centre_x).astype(np.float32)[:, None, None]) / radius
        dy = (offsets[None, :, None] + (top - centre_y).astype(np.float32)[:, None, None]) / radius
        cos = np.cos(values["rotation"]).astype(np.float32)[:, None, None]
        sin = np.sin(values["rotation"]).astype(np.float32)[:, None, None]
        u = cos * dx + sin * dy  # the sampling grid rotated by -rotation; v points up
        v = sin * dx - cos * dy
        inside = np.zeros(u.shape, dtype=bool)
        for kind in range(FACTOR_SIZES[0]):
            rows = values["shape"] == kind
            inside[rows] = _inside(kind, u[rows], v[rows])
        coverage = inside.reshape(-1, WINDOW, SUPERSAMPLE, WINDOW, SUPERSAMPLE).mean(axis=(2, 4))
        window = np.round(coverage * 255).astype(np.uint8)
        for row, (x0, y0) in enumerate(zip(left, top)):
            canvas[start + row, y0 : y0 + WINDOW, x0 : x0 + WINDOW] = window[row]
    return np.ascontiguousarray(canvas[:, half : half + SIZE, half : half + SIZE])


FACTORS = Factors(FACTOR_NAMES, FACTOR_SIZES, lambda indices: render_shapes(indices)[:, None])


def load_shapes(
    *, image_size: int | None = None, limit: int | None = None, train_size: int = 20000, test_size: int = 5000
) -> ImageDataset:
    """A random subset of the factor grid (seeded, so identical every time): 20,000 train / 5,000 test."""
    if limit is not None:
        train_size, test_size = min(train_size, limit), min(test_size, limit)
    rng = np.random.default_rng(0)
    factors = FACTORS.sample(train_size + test_size, rng)
    images = torch.from_numpy(render_shapes(factors)[:, None])
    factors_tensor = torch.from_numpy(factors)
    return ImageDataset(
        name="shapes",
        train_images=images[:train_size],
        test_images=images[train_size:],
        train_labels=factors_tensor[:train_size, 0].clone(),
        test_labels=factors_tensor[train_size:, 0].clone(),
        class_names=list(SHAPE_NAMES),
        factors_train=factors_tensor[:train_size],
        factors_test=factors_tensor[train_size:],
        factor_source=FACTORS,
    )


register(
    DatasetSpec(
        "shapes",
        "procedural dSprites-like shapes with known factors (shape 3, scale 6, rotation 40, x 32, y 32)",
        load_shapes,
        lambda: "generated on demand",
        lambda: True,
        "20,000 train / 5,000 test of 737,280, 64x64x1",
    )
)
