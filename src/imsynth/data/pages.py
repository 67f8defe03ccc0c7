"""``fashion-pages``: pages of Fashion-MNIST items laid out at random, for codecs that must code a page of items
as cheaply as the items. A codec trained on single centred items spent three times the bits on a mosaic of the
same items: every training item had sat at offset 0 of its 8-pixel latent grid inside a black border, while in a
mosaic every second item is 4 pixels off that grid and touches its neighbours.

A page (``size`` pixels square, black) is one of two layouts, chosen per page:

- a crop at a random offset of a mosaic of random items laid side by side (``grid`` percent of the pages): the
  layout of a contact sheet, with items cut at the page's edges and on any phase of the latent grid;
- 1 to ``items`` items dropped at random positions, the brighter pixel kept where two overlap.

Test pages are made from the test split's items only, so a codec is never scored on an item it trained on.
Options follow ``?`` joined with ``&`` (``fashion-pages?size=96&grid=100``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .base import DatasetSpec, ImageDataset, int_options, register
from .sources import fashion_where, find_fashion, load_fashion

PAGES = {"size": 64, "grid": 50, "items": 4, "train": 60000, "test": 2000, "seed": 0}
ITEM = 28  # Fashion-MNIST's side


def lay_out(items: np.ndarray, count: int, size: int, grid: float, most: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` pages (count x size x size uint8) of ``items`` (N x s x s uint8): a share ``grid`` of them crops
    of side-by-side mosaics at random offsets, the rest 1 to ``most`` items at random positions."""
    side = items.shape[-1]
    pages = np.zeros((count, size, size), dtype=np.uint8)
    tiled = rng.random(count) < grid
    across = size // side + 2  # enough tiles to cover the page from any offset
    for page in np.flatnonzero(tiled):
        tiles = items[rng.integers(0, len(items), (across, across))]  # across, across, side, side
        mosaic = tiles.transpose(0, 2, 1, 3).reshape(across * side, across * side)
        top, left = rng.integers(0, side, 2)
        pages[page] = mosaic[top : top + size, left : left + size]
    room = size - side + 1
    for page in np.flatnonzero(~tiled):
        for _ in range(rng.integers(1, most + 1)):
            top, left = rng.integers(0, room, 2)
            window = pages[page, top : top + side, left : left + side]
            np.maximum(window, items[rng.integers(0, len(items))], out=window)
    return pages


def load_pages(options: str = "", *, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    spec = "fashion-pages" + (f"?{options}" if options else "")
    values = int_options(spec, options, PAGES)
    if values["size"] < ITEM:
        raise InputError(f"{spec}: size must be at least {ITEM} (one item), got {values['size']}")
    if not 0 <= values["grid"] <= 100:
        raise InputError(f"{spec}: grid is a percentage of the pages, 0 to 100, got {values['grid']}")
    for key in ("items", "train", "test"):
        if values[key] < 1:
            raise InputError(f"{spec}: {key} must be at least 1, got {values[key]}")
    source = load_fashion()
    made = {}
    for split, items, offset in (("train", source.train_images, 0), ("test", source.test_images, 1)):
        count = values[split] if limit is None else min(values[split], limit)
        rng = np.random.default_rng(values["seed"] * 2 + offset)
        pages = lay_out(items[:, 0].numpy(), count, values["size"], values["grid"] / 100, values["items"], rng)
        made[split] = torch.from_numpy(pages[:, None])
    return ImageDataset(name=spec, train_images=made["train"], test_images=made["test"], extra={"options": values})


register(
    DatasetSpec(
        "fashion-pages",
        "Fashion-MNIST items laid out on pages: mosaic crops at random offsets and scattered items, for codecs "
        "(options: size, grid (percent of mosaic pages), items, train, test, seed)",
        load_pages,
        fashion_where,
        lambda: find_fashion() is not None,
        "60,000 train / 2,000 test pages, 64x64x1",
    )
)
