"""Clip datasets (kind "clips"): uint8 N x T x C x H x W in ``train_images``/``test_images`` (the clip convention
of ``imsynth.clips``), so the engine batches, shuffles, resumes and shards them as it does images.

- ``moving-fashion`` / ``moving-digits``: Moving-MNIST-style clips, 1-2 items bouncing in a square frame. The
  deterministic variant reflects at the walls; ``?stochastic=1`` draws a new direction and speed at each bounce
  (as SM-MNIST, Denton & Fergus 2018). Test clips are made from the source's test items only, so train and test
  never share an item.
- ``moving-shapes``: the ``shapes`` renderer in motion, with per-clip factors known exactly: content (shape,
  scale) and motion (direction, speed, spin), the ground truth for content/motion swaps and disentanglement.
- ``video:FILE`` and ``frames:FOLDER``: a user's recording cut into clips of ``frames`` frames every ``stride``
  frames, the centre square resized to ``size``; streamed frame by frame, the first 80% of the recording is
  the train split and the last 20% the test split (no clip crosses the cut).

Options follow ``?`` joined with ``&`` (``moving-fashion?items=1&frames=20&stochastic=1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..clips import DEFAULT_FPS, fit_frame, frame_rate, iter_frames
from ..errors import InputError
from . import shapes
from .base import DatasetSpec, Factors, ImageDataset, int_options, register, resize_uint8
from .sources import fashion_where, find_fashion, load_digits, load_fashion

DIRECTIONS = 8  # multiples of 45 degrees (moving shapes move so; bouncing items' first directions are binned so)
SPEED_BINS = 3  # bouncing items' first speeds, 2-3, 3-4 and 4-5 px a frame in a 64 px frame
MOVING = {"items": 2, "frames": 15, "stochastic": 0, "train": 4000, "test": 500, "size": 0, "seed": 0}
RECORDING = {"frames": 15, "stride": 5, "size": 64}
TEST_FRACTION = 0.2


@dataclass
class ClipDataset(ImageDataset):
    """Clips as uint8 N x T x C x H x W; labels, where present, are per clip (a moving item's class)."""

    kind: str = "clips"
    fps: float = DEFAULT_FPS  # generated clips have no rate of their own
    # the columns of factors_train/test (per clip, known exactly for generated clips) and how many values each
    # takes; the motion factors among them (the rest describe content). A clip feature network learns them all
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    motion_factors: tuple[str, ...] = ()
    # the image dataset whose shipped feature networks score single frames (per-frame FID/KID), if any
    frame_features: str | None = None

    row_axes: ClassVar[int] = 5
    rows_are: ClassVar[str] = "clips must be uint8 N x T x C x H x W"

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[2])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    @property
    def frames(self) -> int:
        return int(self.train_images.shape[1])


def _options(spec: str, options: str, defaults: dict) -> dict:
    values = int_options(spec, options, defaults)
    for key in ("frames", "size", "stride", "train", "test", "items"):
        if key in values and values[key] < (0 if key == "size" else 1):
            raise InputError(f"{spec}: {key} must be at least 1, got {values[key]}")
    if values.get("items", 1) > 2:
        raise InputError(f"{spec}: items must be 1 or 2, got {values['items']}")
    if values["frames"] < 2:
        raise InputError(f"{spec}: a clip needs at least 2 frames, got {values['frames']}")
    return values


# ---------------------------------------------------------------------------------- bouncing items


def bounce_paths(
    count: int, frames: int, room: int, rng: np.random.Generator, *, stochastic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Top-left positions (count x frames x 2, floats in [0, room]) of items bouncing in a box, and each path's
    first velocity (count x 2). A bounce reflects the velocity (deterministic) or draws a new direction and speed
    pointing back inside (stochastic)."""

    def velocity(n: int) -> np.ndarray:
        angle = rng.uniform(0, 2 * np.pi, n)
        speed = rng.uniform(2.0, 5.0, n) * room / 36.0  # Moving MNIST's 2-5 px per frame in a 64 px frame
        return np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]

    position = rng.uniform(0, room, (count, 2))
    step = velocity(count)
    first = step.copy()
    path = np.empty((count, frames, 2))
    for t in range(frames):
        path[:, t] = position
        position = position + step
        for axis in (0, 1):
            low, high = position[:, axis] < 0, position[:, axis] > room
            hit = low | high
            if not hit.any():
                continue
            position[low, axis] = -position[low, axis]
            position[high, axis] = 2 * room - position[high, axis]
            if stochastic:
                fresh = velocity(int(hit.sum()))
                # the new direction points away from the wall just hit
                fresh[:, axis] = np.abs(fresh[:, axis]) * np.where(low[hit], 1.0, -1.0)
                step[hit] = fresh
            else:
                step[hit, axis] = -step[hit, axis]
        position = np.clip(position, 0, room)
    return path, first


def moving_items(
    items: np.ndarray,
    labels: np.ndarray,
    *,
    count: int,
    frames: int,
    size: int,
    per_clip: int,
    stochastic: bool,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Clips (count x frames x 1 x size x size uint8) of ``per_clip`` items (H x W uint8 each) bouncing; overlaps
    take the brighter pixel. Returns the clips and, per clip, the first item's factors (count x 3: its label,
    its first direction in DIRECTIONS bins, its first speed in SPEED_BINS bins)."""
    rng = np.random.default_rng(seed)
    side = items.shape[-1]
    room = size - side
    chosen = rng.integers(0, len(items), (count, per_clip))
    clips = np.zeros((count, frames, size, size), dtype=np.uint8)
    motion = None
    for slot in range(per_clip):
        path, first = bounce_paths(count, frames, room, rng, stochastic=stochastic)
        if slot == 0:
            angle = np.arctan2(first[:, 1], first[:, 0])
            direction = np.round(angle / (2 * np.pi / DIRECTIONS)).astype(np.int64) % DIRECTIONS
            # speeds are drawn from 2-5 px a frame in a 64 px frame: three equal bins
            speed = np.linalg.norm(first, axis=1) * 36.0 / max(room, 1)
            motion = np.stack([direction, np.clip(((speed - 2.0) / 1.0).astype(np.int64), 0, SPEED_BINS - 1)], 1)
        corner = np.round(path).astype(int)
        for t in range(frames):
            for row in range(count):
                top, left = corner[row, t, 1], corner[row, t, 0]
                window = clips[row, t, top : top + side, left : left + side]
                np.maximum(window, items[chosen[row, slot]], out=window)
    factors = np.concatenate([labels[chosen[:, 0]][:, None].astype(np.int64), motion], axis=1)
    return clips[:, :, None], factors


def _moving(name: str, source, options: str, *, default_size: int, item_size: int, limit: int | None):
    spec = name + (f"?{options}" if options else "")
    values = _options(spec, options, MOVING)
    size = values["size"] or default_size
    if size < item_size + 4:
        raise InputError(f"{spec}: size must be at least {item_size + 4} for {item_size}-pixel items, got {size}")
    train_count, test_count = values["train"], values["test"]
    if limit is not None:
        train_count, test_count = min(train_count, limit), min(test_count, limit)

    def items(images: torch.Tensor) -> np.ndarray:
        return resize_uint8(images, item_size)[:, 0].numpy()

    made = {}
    for split, images, labels, count, offset in (
        ("train", source.train_images, source.train_labels, train_count, 0),
        ("test", source.test_images, source.test_labels, test_count, 1),
    ):
        made[split] = moving_items(
            items(images),
            labels.numpy(),
            count=count,
            frames=values["frames"],
            size=size,
            per_clip=values["items"],
            stochastic=bool(values["stochastic"]),
            seed=values["seed"] * 2 + offset,
        )
    factors = {split: torch.from_numpy(made[split][1]) for split in made}
    return ClipDataset(
        name=spec,
        train_images=torch.from_numpy(made["train"][0]),
        test_images=torch.from_numpy(made["test"][0]),
        train_labels=factors["train"][:, 0].clone(),
        test_labels=factors["test"][:, 0].clone(),
        class_names=source.class_names,
        factors_train=factors["train"],
        factors_test=factors["test"],
        factor_names=("item", "direction", "speed"),
        factor_sizes=(source.num_classes or int(source.train_labels.max()) + 1, DIRECTIONS, SPEED_BINS),
        motion_factors=("direction", "speed"),
        frame_features=source.name,
        extra={"options": values},
    )


def _moving_loader(name: str, source, *, default_size: int, item_size: int):
    """The loader of a Moving-MNIST-style dataset whose items come from ``source()`` (its own train/test split)."""

    def load(options: str = "", *, image_size: int | None = None, limit: int | None = None) -> ClipDataset:
        return _moving(name, source(), options, default_size=default_size, item_size=item_size, limit=limit)

    return load


load_moving_fashion = _moving_loader("moving-fashion", load_fashion, default_size=64, item_size=28)
load_moving_digits = _moving_loader("moving-digits", load_digits, default_size=32, item_size=14)


# ----------------------------------------------------------------------------------- moving shapes

SPEEDS = (1, 2, 3)  # shapes' x/y index units per frame (1.25 px each)
SPINS = (-2, -1, 0, 1, 2)  # rotation index units per frame (9 degrees each)
CONTENT_FACTORS = ("shape", "scale")
MOTION_FACTORS = ("direction", "speed", "spin")


def render_moving_shapes(factors: np.ndarray, starts: np.ndarray, frames: int) -> np.ndarray:
    """Clips (N x frames x 1 x 64 x 64 uint8) for per-clip factors (N x 5: shape, scale, direction, speed, spin)
    and start indices (N x 3: rotation, x, y); positions bounce off the edges of the shapes' x/y grid."""
    factors, starts = np.asarray(factors, dtype=np.int64), np.asarray(starts, dtype=np.int64)
    angle = factors[:, 2] * (2 * np.pi / DIRECTIONS)
    speed = np.asarray(SPEEDS)[factors[:, 3]]
    step = np.stack([np.round(np.cos(angle) * speed), np.round(np.sin(angle) * speed)], axis=1).astype(np.int64)
    spin = np.asarray(SPINS)[factors[:, 4]]
    last = shapes.FACTOR_SIZES[3] - 1
    position = starts[:, 1:].copy()
    indices = np.empty((len(factors), frames, 5), dtype=np.int64)
    for t in range(frames):
        indices[:, t, 0], indices[:, t, 1] = factors[:, 0], factors[:, 1]
        indices[:, t, 2] = (starts[:, 0] + spin * t) % shapes.FACTOR_SIZES[2]
        indices[:, t, 3:] = position
        position = position + step
        over, under = position > last, position < 0
        position = np.where(over, 2 * last - position, np.where(under, -position, position))
        step = np.where(over | under, -step, step)
    return shapes.render_shapes(indices.reshape(-1, 5)).reshape(len(factors), frames, 1, shapes.SIZE, shapes.SIZE)


MOVING_SHAPE_SIZES = (shapes.FACTOR_SIZES[0], shapes.FACTOR_SIZES[1], DIRECTIONS, len(SPEEDS), len(SPINS))


def _render_from_factors(factors: np.ndarray, frames: int = 10) -> np.ndarray:
    # fixed starts (centre, upright), so a factor held fixed means the same content or the same motion
    starts = np.tile(np.array([[0, 16, 16]]), (len(factors), 1))
    return render_moving_shapes(factors, starts, frames)


MOVING_SHAPE_FACTORS = Factors(CONTENT_FACTORS + MOTION_FACTORS, MOVING_SHAPE_SIZES, _render_from_factors)


def load_moving_shapes(options: str = "", *, image_size: int | None = None, limit: int | None = None) -> ClipDataset:
    spec = "moving-shapes" + (f"?{options}" if options else "")
    values = _options(spec, options, {"frames": 15, "train": 4000, "test": 500, "seed": 0})
    train_count, test_count = values["train"], values["test"]
    if limit is not None:
        train_count, test_count = min(train_count, limit), min(test_count, limit)
    rng = np.random.default_rng(values["seed"])
    total = train_count + test_count
    factors = np.stack([rng.integers(0, size, total) for size in MOVING_SHAPE_SIZES], axis=1)
    starts = np.stack([rng.integers(0, s, total) for s in shapes.FACTOR_SIZES[2:]], axis=1)
    clips = torch.from_numpy(render_moving_shapes(factors, starts, values["frames"]))
    factor_tensor = torch.from_numpy(factors)
    return ClipDataset(
        name=spec,
        train_images=clips[:train_count],
        test_images=clips[train_count:],
        train_labels=factor_tensor[:train_count, 0].clone(),
        test_labels=factor_tensor[train_count:, 0].clone(),
        class_names=list(shapes.SHAPE_NAMES),
        factors_train=factor_tensor[:train_count],
        factors_test=factor_tensor[train_count:],
        factor_source=MOVING_SHAPE_FACTORS,
        factor_names=CONTENT_FACTORS + MOTION_FACTORS,
        factor_sizes=MOVING_SHAPE_SIZES,
        motion_factors=MOTION_FACTORS,
        extra={"options": values},
    )


# ---------------------------------------------------------------------------------- recordings


def recording_clips(path: Path, spec: str, values: dict, limit: int | None) -> ClipDataset:
    """Clips cut from a recording, streamed: only the resized frames are kept."""
    frames = np.stack([fit_frame(frame, values["size"]) for frame in iter_frames(path)])
    length, stride = values["frames"], values["stride"]
    cut = int(round(len(frames) * (1 - TEST_FRACTION)))
    splits = {}
    for split, part in (("train", frames[:cut]), ("test", frames[cut:])):
        starts = range(0, len(part) - length + 1, stride)
        if not len(starts):
            raise InputError(
                f"{path}: {len(frames)} frames give its {split} split {len(part)}, fewer than one clip of "
                f"{length} frames; use fewer frames (?frames=N)"
            )
        clips = np.stack([part[s : s + length] for s in starts])
        splits[split] = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).contiguous()
        if limit is not None:
            splits[split] = splits[split][:limit]
    return ClipDataset(
        name=spec,
        train_images=splits["train"],
        test_images=splits["test"],
        fps=frame_rate(path, frames_read=len(frames)),
        extra={"options": values},
    )


def _recording_loader(prefix: str, exists, missing: str):
    """The loader of ``prefix:PATH[?options]``: a file or a folder of frames, cut into clips."""

    def load(argument: str, *, image_size: int | None = None, limit: int | None = None) -> ClipDataset:
        path, _, options = argument.partition("?")
        values = _options(f"{prefix}:{argument}", options, RECORDING)
        if image_size:
            values["size"] = image_size
        source = Path(path).expanduser()
        if not exists(source):
            raise InputError(f"{prefix}:{argument}: {path}: {missing}")
        return recording_clips(source, f"{prefix}:{argument}", values, limit)

    return load


load_video = _recording_loader("video", Path.is_file, "no such file")
load_frames = _recording_loader("frames", Path.is_dir, "no such folder")


for _spec in (
    DatasetSpec(
        "moving-fashion",
        "Fashion-MNIST items bouncing in 64x64 clips (options: items=1|2, frames, stochastic=0|1, size, train, test)",
        load_moving_fashion,
        fashion_where,
        lambda: find_fashion() is not None,
        "4,000 train / 500 test clips of 15 frames, 64x64x1",
        kind="clips",
    ),
    DatasetSpec(
        "moving-digits",
        "scikit-learn's digits bouncing in 32x32 clips (options as moving-fashion)",
        load_moving_digits,
        lambda: "generated from scikit-learn's digits",
        lambda: True,
        "4,000 train / 500 test clips of 15 frames, 32x32x1",
        kind="clips",
    ),
    DatasetSpec(
        "moving-shapes",
        "shapes in motion with known content (shape, scale) and motion (direction, speed, spin) factors",
        load_moving_shapes,
        lambda: "generated on demand",
        lambda: True,
        "4,000 train / 500 test clips of 15 frames, 64x64x1",
        kind="clips",
    ),
    DatasetSpec(
        "video:",
        "a video file (MP4/AVI/WebM/MOV/GIF) cut into clips, streamed (options: frames, stride, size)",
        load_video,
        lambda: "your files",
        lambda: True,
        "first 80% of the frames train, last 20% test",
        argument="FILE[?frames=N&stride=N&size=N]",
        kind="clips",
    ),
    DatasetSpec(
        "frames:",
        "a folder of ordered frames (image files) cut into clips (options as video:)",
        load_frames,
        lambda: "your files",
        lambda: True,
        "first 80% of the frames train, last 20% test",
        argument="FOLDER[?frames=N&stride=N&size=N]",
        kind="clips",
    ),
):
    register(_spec)
