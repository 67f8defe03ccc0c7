"""The one place that touches clip files (videos, GIFs, folders of frames, .npz). No torch here.

The clip convention, written once: a clip is uint8 ``T x H x W x C`` in numpy (frames, then an image as
``imsynth.image`` holds it) and, in datasets and models, ``T x C x H x W`` per clip (``N x T x C x H x W`` for a
batch; uint8 in datasets, float [-1, 1] in models, as for images). Frame rates are frames per second.

Videos (MP4, AVI, WebM, MOV, MKV) are decoded by OpenCV frame by frame (``iter_frames``), so a long recording is
streamed, never held whole, and each coded frame comes once (a frame the file repeats is not repeated; see
``frame_rate``); GIFs by Pillow; a folder holds ordered image files (sorted by name, digits in names compared as
numbers, so ``frame-2`` comes before ``frame-10``); an ``.npz`` holds an array ``clips``
(N x T x H x W x C) or ``frames`` (T x H x W x C). Every clip written goes through ``write_frames`` (atomic).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from .errors import ImageError, InputError
from .image import (
    READABLE_SUFFIXES,
    atomic_path,
    check_output,
    fit_square,
    image_files,
    is_folder_output,
    load_image,
    save_image,
    to_pil,
)

__all__ = [
    "CLIP_OUTPUTS",
    "VIDEO_SUFFIXES",
    "fit_frame",
    "frame_rate",
    "stored_fps",
    "iter_frames",
    "read_clip",
    "write_frames",
    "save_gif",
]

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v")
CLIP_INPUTS = (*VIDEO_SUFFIXES, ".gif", ".npz")
CLIP_OUTPUTS = (".gif", ".mp4")
DEFAULT_FPS = 10.0  # a rate GIFs can hold exactly (they store frame times in hundredths of a second)


def _natural(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name.lower())]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """A folder's image files in frame order (digits in names compared as numbers)."""
    return sorted(image_files(folder, suffixes=READABLE_SUFFIXES, recursive=False), key=_natural)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() not in CLIP_INPUTS:
        kinds = ", ".join(CLIP_INPUTS)
        raise InputError(
            f"{path}: not a clip ({path.suffix or 'no suffix'}); give a video ({kinds}) or a folder of frames"
        )
    return path


def _rgb_or_grey(frame: np.ndarray) -> np.ndarray:
    return frame[..., None] if frame.ndim == 2 else frame


def _gif_durations(picture: Image.Image) -> list[int]:
    """Each frame's display time in milliseconds (0 where the GIF does not say)."""
    return [int(frame.info.get("duration", 0) or 0) for frame in ImageSequence.Iterator(picture)]


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """The frames of a clip file or folder, one at a time, as uint8 H x W x C (C = 1 or 3), never all at once
    for a video file."""
    path = _existing(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise InputError(f"{path}: no image files in this folder")
        first = None
        for file in files:
            frame = np.round(load_image(file) * 255).astype(np.uint8)
            frame = _rgb_or_grey(frame[..., :3] if frame.ndim == 3 else frame)
            if first is None:
                first = frame.shape
            elif frame.shape != first:
                raise InputError(
                    f"{file}: frame of shape {frame.shape[1]}x{frame.shape[0]}x{frame.shape[2]} in a folder whose "
                    f"first frame is {first[1]}x{first[0]}x{first[2]}; every frame must have the same size and mode"
                )
            yield frame
        return
    suffix = path.suffix.lower()
    if suffix == ".npz":
        yield from read_clip(path)
        return
    if suffix == ".gif":
        try:
            with Image.open(path) as picture:
                durations = _gif_durations(picture)
                unit = min((d for d in durations if d > 0), default=0)
                count = 0
                for frame, duration in zip(ImageSequence.Iterator(picture), durations):
                    count += 1
                    pixels = _rgb_or_grey(np.asarray(frame.convert("RGB")))
                    # GIF writers (Pillow's among them) merge identical consecutive frames into one longer one:
                    # shown for n units, it stands for n frames of the clip
                    for _ in range(max(1, round(duration / unit)) if unit else 1):
                        yield pixels
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(f"{path}: not a readable GIF ({error})") from None
        if count == 0:
            raise ImageError(f"{path}: the GIF has no frames")
        return
    import cv2  # only for video files

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageError(f"{path}: not a readable video (truncated, or a codec this machine lacks)")
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise ImageError(f"{path}: no frames could be decoded (truncated or not a video)")
    finally:
        capture.release()


def fit_frame(frame: np.ndarray, size: int, channels: int | None = None) -> np.ndarray:
    """A uint8 H x W x C frame fitted to ``size`` x ``size`` (the centre square, as ``fit_square``), converted to
    ``channels`` (1 or 3) when given: uint8 size x size x C."""
    picture = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame[..., :3])
    if channels is not None:
        picture = picture.convert("L" if channels == 1 else "RGB")
    fitted = np.asarray(fit_square(picture, size) if picture.size != (size, size) else picture)
    return fitted[..., None] if fitted.ndim == 2 else fitted


def _declared(path: Path) -> tuple[float, int]:
    """A video file's stated frames per second and frame count (0 where it does not say)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0.0, 0
        return float(capture.get(cv2.CAP_PROP_FPS)), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def frame_rate(path: str | os.PathLike, *, frames_read: int | None = None) -> float:
    """A clip file's frames per second (a GIF: from its shortest frame time; ``DEFAULT_FPS`` for folders and
    .npz, and where a file does not say).

    A video may hold a frame for several ticks (AVI's repeated frames: opencv-doc's tree.avi declares 444
    frames at 15 fps and codes 68), and ``iter_frames`` yields each coded frame once, as motion should be
    learned. Given ``frames_read`` (how many it yielded), the rate is then those frames over the declared
    duration, so a clip cut from them plays at the speed it was filmed (tree.avi: 2.3 fps, not 15)."""
    path = _existing(path)
    if path.is_file() and path.suffix.lower() == ".gif":
        try:
            with Image.open(path) as picture:
                unit = min((d for d in _gif_durations(picture) if d > 0), default=0)
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(f"{path}: not a readable GIF ({error})") from None
        return 1000.0 / unit if unit else DEFAULT_FPS
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        fps, declared = _declared(path)
        if fps > 0 and frames_read and declared > frames_read * 1.02:  # a frame or two of slack: containers round
            return frames_read * fps / declared
        if fps > 0:
            return fps
    return DEFAULT_FPS


def read_clip(path: str | os.PathLike, *, max_frames: int | None = None) -> np.ndarray:
    """One clip as uint8 T x H x W x C (an .npz of several clips: its first). ``max_frames`` stops early."""
    path = _existing(path)
    if path.is_file() and path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "clips" in archive:
                    frames = archive["clips"][0]
                elif "frames" in archive:
                    frames = archive["frames"]
                else:
                    raise InputError(f"{path}: an .npz clip needs an array 'clips' (N x T x H x W x C) or 'frames'")
        except (OSError, ValueError) as error:
            raise ImageError(f"{path}: not a readable .npz ({error})") from None
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[..., None]
        if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
            raise InputError(f"{path}: clip frames must be T x H x W x C with C 1 or 3, got shape {frames.shape}")
        if frames.dtype != np.uint8:
            frames = np.round(np.clip(frames.astype(np.float32), 0, 1) * 255).astype(np.uint8)
        return frames[:max_frames] if max_frames else frames
    frames = []
    for frame in iter_frames(path):
        frames.append(frame)
        if max_frames and len(frames) >= max_frames:
            break
    return np.stack(frames)


def stored_fps(out, fps: float) -> float:
    """The rate a clip written to ``out`` at ``fps`` plays at: a GIF rounds each frame's time to 10 ms."""
    if Path(out).suffix.lower() == ".gif":
        return 100.0 / max(1, round(100.0 / fps))
    return fps


GIF_LONGEST_MS = 655_350


def save_gif(
    path: str | os.PathLike, frames: Sequence[np.ndarray], *, duration_ms: float = 80.0, loop: int = 0
) -> Path:
    """Write frames (HxW or HxWxC, float [0,1] or uint8) as an animated GIF; ``duration_ms`` is the time each
    frame shows, in milliseconds."""
    if len(frames) == 0:
        raise InputError("cannot write a GIF with no frames")
    import imageio.v3 as iio  # only for animations

    path = check_output(path, suffixes=(".gif",))
    pictures = [np.asarray(to_pil(frame)) for frame in frames]
    # the format stores a frame's time in 16 bits of 1/100 s, and Pillow stores identical frames in a row as one
    repeats = longest = 1
    for before, after in zip(pictures, pictures[1:]):
        repeats = repeats + 1 if np.array_equal(before, after) else 1
        longest = max(longest, repeats)
    if not 0 < duration_ms * longest <= GIF_LONGEST_MS:
        held = f" ({longest} identical frames in a row are stored as one)" if longest > 1 else ""
        raise InputError(
            f"a GIF frame shows for at most {GIF_LONGEST_MS / 1000:g} s (fps >= {1000 / GIF_LONGEST_MS:.4f}); "
            f"got {duration_ms * longest / 1000:g} s{held}"
        )
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, pictures, extension=".gif", duration=duration_ms, loop=loop)
    return path


def write_frames(frames: Sequence[np.ndarray], out, *, fps: float = DEFAULT_FPS, loop: int = 0) -> Path:
    """``out`` .gif (frame duration 1000 / fps ms, ``loop`` 0 = forever), .mp4 (H.264 via the ffmpeg that the
    imageio-ffmpeg package ships) or a folder (ending in '/' or existing: frame-00000.png, ...). Frames are
    H x W[ x C], float [0, 1] or uint8."""
    if len(frames) == 0:
        raise InputError("no frames to write")
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"--fps must be > 0, got {fps}")
    folder = is_folder_output(out)
    out = check_output(out, suffixes=CLIP_OUTPUTS, folder_ok=True)
    if folder:
        for index, frame in enumerate(frames):
            save_image(out / f"frame-{index:05d}.png", frame)
        return out
    suffix = out.suffix.lower()
    if suffix == ".gif":
        return save_gif(out, frames, duration_ms=1000.0 / fps, loop=loop)
    try:
        import imageio_ffmpeg  # noqa: F401  (ships an ffmpeg binary)
    except ImportError:
        raise InputError(
            "writing .mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); write a .gif or a folder/ instead"
        ) from None
    import imageio.v2 as imageio

    pictures = [np.asarray(to_pil(frame).convert("RGB")) for frame in frames]
    # H.264 wants even sides: pad by one edge pixel where needed
    height, width = pictures[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    with atomic_path(out) as tmp:
        with imageio.get_writer(
            tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1
        ) as writer:
            for picture in pictures:
                writer.append_data(np.pad(picture, pad, mode="edge"))
    return out
