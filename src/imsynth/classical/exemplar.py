"""Exemplar-based inpainting: fill a hole by copying patches of the image's own known pixels (or of a sample).

- ``criminisi_inpaint`` (Criminisi, Pérez & Toyama 2004): fill patch by patch along the hole's front, the patch
  with the highest priority first (confidence: how much of it is known; data: how strongly an isophote runs
  into the hole), each from the best-matching fully known patch (masked SSD, ``cv2.matchTemplate``) within
  ``search_radius`` pixels (``None``: the whole image). Good at continuing straight structures.
- ``patchmatch_inpaint`` (Wexler, Shechtman & Irani 2007 with PatchMatch, Barnes et al. 2009): coarse to fine on
  a pyramid, alternate PatchMatch nearest neighbours for every patch touching the hole and voting (each hole
  pixel the mean of the patches over it; the last pass copies matched centres), starting from a Criminisi fill
  at the coarsest level. Fast and good
  on textures. With ``source=SAMPLE`` the hole is filled with texture from another image ("shape fill").

Both: ``image`` float HxW or HxWxC in [0, 1], ``mask`` bool HxW (True = hole); known pixels are returned
unchanged; an empty mask returns a copy; a hole covering everything is an error.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from . import _patchmatch
from ._checks import channels_last, check_hole, check_image
from .pyramid import down, push_pull_fill


def _check_patch(patch: int, shape: tuple[int, ...], where: str = "image") -> None:
    if patch < 3 or patch % 2 == 0:
        raise InputError(f"patch size must be an odd number >= 3, got {patch}")
    if patch > min(shape[:2]):
        raise InputError(f"patch size {patch} is larger than the {shape[1]}x{shape[0]} {where}")


def criminisi_inpaint(image, mask, *, patch: int = 9, search_radius: int | None = 64) -> np.ndarray:
    """Priority-ordered exemplar filling (deterministic)."""
    image = check_image(image)
    mask = check_hole(image, mask)
    _check_patch(patch, image.shape)
    planes = channels_last(image).copy()
    if not mask.any():
        return image.copy()
    radius = patch // 2
    height, width = mask.shape
    hole = mask.copy()
    confidence = (~mask).astype(np.float32)
    interior = np.zeros_like(mask)
    interior[radius : height - radius, radius : width - radius] = True
    square = np.ones((patch, patch), np.uint8)
    # source centres: the whole patch inside the image and known from the start
    source_ok = interior & (cv2.erode((~mask).astype(np.uint8), square, borderValue=0) > 0)
    if not source_ok.any():
        raise InputError(f"no fully known {patch}x{patch} patch to copy from; use a smaller --patch or a smaller hole")
    grey = planes.mean(axis=2)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    trusted = ~(cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)  # gradients not touching the hole
    gx, gy = gx * trusted, gy * trusted
    offsets = np.arange(-radius, radius + 1)
    patch_dy, patch_dx = np.meshgrid(offsets, offsets, indexing="ij")
    patch_dy, patch_dx = patch_dy.ravel(), patch_dx.ravel()
    while hole.any():
        front = hole & (cv2.dilate((~hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
        ys, xs = np.nonzero(front)
        py = np.clip(ys[:, None] + patch_dy, 0, height - 1)
        px = np.clip(xs[:, None] + patch_dx, 0, width - 1)
        inside = (
            (ys[:, None] + patch_dy >= 0)
            & (ys[:, None] + patch_dy < height)
            & (xs[:, None] + patch_dx >= 0)
            & (xs[:, None] + patch_dx < width)
        )
        level = confidence[py, px] * inside
        conf = level.sum(axis=1) / patch**2
        # front normal from the hole indicator's gradient, isophote = gradient rotated by 90 degrees
        smooth = cv2.GaussianBlur(hole.astype(np.float32), (5, 5), 1.0)
        ny = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
        nx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
        norm = np.hypot(nx, ny) + 1e-8
        isophote = np.abs(-gy[py, px] * (nx / norm)[:, None] + gx[py, px] * (ny / norm)[:, None]) * inside
        data = isophote.max(axis=1) + 1e-3
        best = int(np.argmax(conf * data))
        y, x = int(ys[best]), int(xs[best])
        top, bottom = max(0, y - radius), min(height, y + radius + 1)
        left, right = max(0, x - radius), min(width, x + radius + 1)
        target = planes[top:bottom, left:right]
        known = ~hole[top:bottom, left:right]
        if search_radius is None:
            region = (0, height, 0, width)
        else:
            region = (
                max(0, top - search_radius),
                min(height, bottom + search_radius),
                max(0, left - search_radius),
                min(width, right + search_radius),
            )
        match = _best_source(planes, target, known, source_ok, region, (y - top, x - left), radius)
        if match is None:  # nothing valid nearby: search everywhere
            match = _best_source(planes, target, known, source_ok, (0, height, 0, width), (y - top, x - left), radius)
        sy, sx = match
        source = planes[
            sy - (y - top) : sy - (y - top) + bottom - top, sx - (x - left) : sx - (x - left) + right - left
        ]
        fill = hole[top:bottom, left:right]
        target[fill] = source[fill]
        confidence[top:bottom, left:right][fill] = conf[best]
        hole[top:bottom, left:right] = False
    out = np.where(mask[:, :, None], planes, channels_last(image))
    return out.reshape(image.shape).astype(np.float32)


def _best_source(planes, target, known, source_ok, region, centre, radius):
    """The source centre (in image coordinates) whose patch best matches ``target`` on its known pixels."""
    top, bottom, left, right = region
    search = planes[top:bottom, left:right]
    if search.shape[0] < target.shape[0] or search.shape[1] < target.shape[1]:
        return None
    weights = np.repeat(known.astype(np.float32)[:, :, None], planes.shape[2], axis=2)
    errors = cv2.matchTemplate(np.ascontiguousarray(search), np.ascontiguousarray(target), cv2.TM_SQDIFF, mask=weights)
    # errors[i, j]: template placed with its top-left at (top + i, left + j); its centre is offset by ``centre``
    cy, cx = centre
    rows = top + np.arange(errors.shape[0]) + cy
    cols = left + np.arange(errors.shape[1]) + cx
    allowed = source_ok[np.ix_(rows, cols)]
    # a cropped (border) target patch must not be matched where the full patch would leave the image
    if not allowed.any():
        return None
    errors = np.where(allowed, np.nan_to_num(errors, nan=np.inf), np.inf)
    i, j = np.unravel_index(int(np.argmin(errors)), errors.shape)
    return int(rows[i]), int(cols[j])


def patchmatch_inpaint(
    image, mask, *, patch: int = 7, iterations: int = 4, levels: int | None = None, source=None, seed: int = 0
) -> np.ndarray:
    """Multi-scale PatchMatch inpainting; ``source`` (another image, same channels) supplies the patches instead
    of the image's own known pixels."""
    image = check_image(image)
    mask = check_hole(image, mask)
    _check_patch(patch, image.shape)
    if iterations < 1:
        raise InputError(f"iterations must be >= 1, got {iterations}")
    if not mask.any():
        return image.copy()
    planes = np.ascontiguousarray(channels_last(image))
    sample = None
    if source is not None:
        sample = np.ascontiguousarray(channels_last(check_image(source, where="source")))
        if sample.shape[2] != planes.shape[2]:
            raise InputError(f"source has {sample.shape[2]} channels, the image {planes.shape[2]}")
        _check_patch(patch, sample.shape, "source")
    radius = patch // 2
    if levels is None:  # coarsest level: the hole about two patches across (or the image about four)
        ys, xs = np.nonzero(mask)
        extent = max(ys.max() - ys.min(), xs.max() - xs.min()) + 1
        levels = 1
        while extent / 2**levels >= 2 * patch and min(mask.shape) / 2**levels >= 4 * patch:
            levels += 1
    images, holes, samples = [planes], [mask], [sample]
    for _ in range(levels - 1):
        images.append(down(images[-1]))
        holes.append(
            cv2.resize(
                holes[-1].astype(np.uint8), (images[-1].shape[1], images[-1].shape[0]), interpolation=cv2.INTER_AREA
            )
            > 0
        )  # any coverage makes a coarse pixel unknown
        samples.append(None if sample is None else down(samples[-1]))
    current = nnf = None
    square = np.ones((patch, patch), np.uint8)
    for level in reversed(range(levels)):
        known_image, hole = images[level], holes[level]
        height, width = hole.shape
        if samples[level] is not None:
            source_image = samples[level]
            source_ok = np.zeros(source_image.shape[:2], bool)
            source_ok[radius : source_image.shape[0] - radius, radius : source_image.shape[1] - radius] = True
        else:
            source_image = None
            source_ok = np.zeros((height, width), bool)
            source_ok[radius : height - radius, radius : width - radius] = True
            source_ok &= cv2.erode((~hole).astype(np.uint8), square, borderValue=0) > 0
        if not source_ok.any():
            if level == 0:
                raise InputError(f"no fully known {patch}x{patch} patch to copy from; use a smaller patch or hole")
            continue  # too coarse for patches: the next level starts from the push-pull fill
        if current is None:
            # Start from structure: a smooth start (push-pull) lets the matching settle on the flattest patches
            # and washes the texture out (seen on scikit-image's grass); Criminisi filling is cheap at this size.
            if source_image is None:
                current = criminisi_inpaint(known_image, hole, patch=patch, search_radius=None)
            else:
                current = push_pull_fill(known_image, hole) if (~hole).any() else known_image.copy()
            current = current.reshape(known_image.shape)
            active = cv2.dilate(hole.astype(np.uint8), square) > 0
            nnf = _patchmatch.random_field(active, source_ok, seed)
        else:
            upsampled = cv2.resize(current, (width, height), interpolation=cv2.INTER_LINEAR).reshape(known_image.shape)
            current = np.where(hole[:, :, None], upsampled, known_image).astype(np.float32)
            nnf = _patchmatch.upsample_field(nnf, (height, width), source_ok, seed + level)
        active = cv2.dilate(hole.astype(np.uint8), square) > 0
        current = np.ascontiguousarray(current, dtype=np.float32)
        for iteration in range(iterations):
            patches_from = current if source_image is None else source_image
            _patchmatch.patchmatch(
                current, patches_from, source_ok, active, nnf, radius, 2, seed + 31 * level + iteration
            )
            if level == 0 and iteration == iterations - 1:
                # the final pass copies each hole pixel's matched patch centre: voting's mean blurs the texture
                copied = patches_from[nnf[..., 0], nnf[..., 1]]
                current = np.where(hole[:, :, None], copied, current).astype(np.float32)
                break
            total, weight = _patchmatch.vote(patches_from, nnf, active, hole, radius, planes.shape[2])
            voted = total / np.maximum(weight, 1e-12)[:, :, None]
            current = np.where((hole & (weight > 0))[:, :, None], voted, current).astype(np.float32)
    out = np.where(mask[:, :, None], np.clip(current, 0.0, 1.0), planes)
    return out.reshape(image.shape).astype(np.float32)
