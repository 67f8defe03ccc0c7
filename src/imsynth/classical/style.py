"""Example-based style transfer without learning: the content image redrawn out of pieces of the style image.

``texture_transfer`` is Efros & Freeman's (2001) texture transfer: image quilting in which each block is chosen
by a weighted sum of its overlap error with the blocks already placed (``alpha``) and a correspondence error
between its luminance and the content's luminance under it (``1 - alpha``). Several passes with shrinking
blocks refine it, each also matching the previous pass's result, as in the paper.
The correspondence compares luminance normalised per image (mean 0, spread 1), so a dark texture can still draw
a bright photograph.

The ``STYLIZERS`` table lists the methods; ``imsynth.apps.stylize`` adds the optimisation method (Gram
statistics of random multi-scale convolutional features), which needs torch. Images are float HxW or HxWxC in
[0, 1]; the result has the content's size and the style's channels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ..image import convert_channels
from ..tables import Table, method
from ._checks import channels_last, check_image
from .texture import _min_cut_mask, _near_best


def texture_transfer(
    content,
    style,
    *,
    block: int = 32,
    passes: int = 2,
    alpha: float | None = None,
    tolerance: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """Efros-Freeman texture transfer of ``style`` onto ``content`` (see the module notes)."""
    content = check_image(content, where="content")
    flat = np.ndim(style) == 2
    style = channels_last(check_image(style, where="style"))
    if block < 4:
        raise InputError(f"block must be >= 4 pixels, got {block}")
    if passes < 1:
        raise InputError(f"passes must be >= 1, got {passes}")
    if alpha is not None and not 0 <= alpha <= 1:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    smallest = block // 2 ** (passes - 1)
    if smallest < 4:
        raise InputError(f"{passes} passes halve block {block} below 4 pixels; use fewer passes or a larger block")
    if block > min(style.shape[:2]):
        raise InputError(f"block {block} is larger than the {style.shape[1]}x{style.shape[0]} style image")
    rng = np.random.default_rng(seed)
    height, width = content.shape[:2]
    target = convert_channels(content, 1)
    source = convert_channels(style, 1)
    target = (target - target.mean()) / (target.std() + 1e-6)
    source = (source - source.mean()) / (source.std() + 1e-6)
    result = None
    for number in range(passes):
        size = block // 2**number
        if alpha is not None:
            weight = alpha
        else:  # the paper's schedule: the content match leads at first, the seams in the last pass
            weight = 0.1 + 0.8 * number / (passes - 1) if passes > 1 else 0.5
        result = _transfer_pass(style, source, target, result, size, weight, tolerance, rng, (height, width))
    return result[:, :, 0] if flat else result


def _transfer_pass(style, source, target, previous, block, alpha, tolerance, rng, shape):
    height, width = shape
    overlap = max(1, block // 6)
    step = block - overlap
    rows, cols = max(1, -(-(height - overlap) // step)), max(1, -(-(width - overlap) // step))
    full_h, full_w = rows * step + overlap, cols * step + overlap
    pad = ((0, full_h - height), (0, full_w - width))
    target = np.pad(target, pad, mode="edge")
    prior = None if previous is None else np.pad(previous, pad + ((0, 0),), mode="edge")
    canvas = np.zeros((full_h, full_w, style.shape[2]), np.float32)
    placed = np.zeros((full_h, full_w), bool)
    area = float(block * block)
    for row in range(rows):
        for col in range(cols):
            y, x = row * step, col * step
            region = canvas[y : y + block, x : x + block]
            known = placed[y : y + block, x : x + block].astype(np.float32)
            correspondence = cv2.matchTemplate(
                source, np.ascontiguousarray(target[y : y + block, x : x + block]), cv2.TM_SQDIFF
            )
            errors = (1 - alpha) * correspondence / area
            if known.any():
                mask = np.repeat(known[:, :, None], style.shape[2], axis=2)
                overlap_error = cv2.matchTemplate(style, np.ascontiguousarray(region), cv2.TM_SQDIFF, mask=mask)
                errors = errors + alpha * overlap_error / max(known.sum(), 1)
            if prior is not None:  # later passes also agree with the previous, coarser result
                previous_error = cv2.matchTemplate(
                    style, np.ascontiguousarray(prior[y : y + block, x : x + block]), cv2.TM_SQDIFF
                )
                errors = errors + alpha * previous_error / area
            good = _near_best(errors, tolerance)
            sy, sx = good[rng.integers(len(good))]
            chosen = style[sy : sy + block, sx : sx + block]
            take = np.ones((block, block), bool)
            if known.any():
                pixel_error = ((chosen - region) ** 2).sum(axis=2)
                if col > 0:
                    take[:, :overlap] &= _min_cut_mask(pixel_error[:, :overlap])
                if row > 0:
                    take[:overlap, :] &= _min_cut_mask(pixel_error[:overlap, :].T).T
            region[take] = chosen[take]
            placed[y : y + block, x : x + block] = True
    return canvas[:height, :width].copy()


STYLIZERS: Table = Table("style method")
STYLIZERS.add(
    method(
        "quilt",
        texture_transfer,
        "texture transfer (Efros & Freeman 2001): quilting guided by the content's luminance",
        options={
            "block": "block side of the first pass, in pixels (halved each pass)",
            "passes": "refinement passes",
            "alpha": "weight of the seams against the content match (default: the paper's 0.1 rising to 0.9)",
            "tolerance": "match tolerance",
            "seed": "random seed",
        },
        tags=("classical",),
    )
)
