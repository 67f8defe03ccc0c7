"""What users do with video runs: predict the frames after a clip, swap content and motion between clips, and
write clips (GIF, MP4, a folder of GIFs, .npz, or a PNG strip). Every clip written states its frame rate and
duration in the report."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..clips import CLIP_OUTPUTS, read_clip, write_frames
from ..errors import InputError
from ..image import atomic_path, check_output, is_folder_output, make_grid, read_image, save_grid
from ..metrics.video import frame_scores
from ..models import ContentMotion, Interpolator, Predictor, load_run
from ..runtime import runs as ckpt

CLIP_WRITES = (*CLIP_OUTPUTS, ".npz", ".png")
VIEW_SIDE = 96  # small frames are enlarged (nearest neighbour) to at least this side for viewing


def run_fps(run) -> float:
    """The frame rate of the clips a run was trained on (10 when the run does not say)."""
    saved = ckpt.read_json(ckpt.require_run(run) / ckpt.CONFIG)
    return float(saved.get("data", {}).get("fps", 10.0))


def require_video_model(model, capability: type | None = None, what: str = ""):
    if "clips" not in type(model).capabilities:
        raise InputError(f"model {model.registered_name!r} works on images, not clips; {what or 'use a video run'}")
    if capability is not None and not isinstance(model, capability):
        raise InputError(f"model {model.registered_name!r} cannot {what}")
    return model


def _fit_frame(frame: np.ndarray, config) -> np.ndarray:
    """uint8 H x W x C -> the centre square at the run's side and channels, uint8 side x side x channels."""
    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = frame[top : top + side, left : left + side]
    picture = Image.fromarray(square[..., 0] if square.shape[-1] == 1 else square[..., :3])
    picture = picture.convert("L" if config.channels == 1 else "RGB")
    if side != config.image_size:
        fitted = Image.Resampling.LANCZOS if side > config.image_size else Image.Resampling.BICUBIC
        picture = picture.resize((config.image_size, config.image_size), fitted)
    array = np.asarray(picture)
    return array[..., None] if array.ndim == 2 else array


def _as_clip(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div(127.5).sub(1)[None]


def clip_for_model(path, model, *, least: int = 1) -> torch.Tensor:
    """A clip file or folder as the model's clips: (1, T, C, H, W) in [-1, 1], the centre square of each frame
    resized to the run's side and converted to its channels."""
    clip = _as_clip([_fit_frame(frame, model.config) for frame in read_clip(path)])
    if clip.shape[1] < least:
        raise InputError(f"{path}: the clip has {clip.shape[1]} frames; this needs at least {least}")
    return clip


def frame_for_model(path, model) -> torch.Tensor:
    """An image file as a one-frame clip of the model's (1, 1, C, H, W) in [-1, 1]."""
    image, _ = read_image(path)
    uint8 = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return _as_clip([_fit_frame(uint8 if uint8.ndim == 3 else uint8[..., None], model.config)])


def _uint8(clips: torch.Tensor) -> np.ndarray:
    """(N, T, C, H, W) in [-1, 1] -> uint8 (N, T, H, W, C)."""
    return ((clips.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()


def panel_frames(panels: list[torch.Tensor]) -> list[np.ndarray]:
    """Clips side by side (each (T, C, H, W); the shorter ones hold their last frame) -> frames float [0, 1]."""
    length = max(len(p) for p in panels)
    frames = []
    scale = max(1, VIEW_SIDE // panels[0].shape[-1])
    for t in range(length):
        row = np.stack([_uint8(p[None, min(t, len(p) - 1)][:, None])[0, 0] for p in panels]).astype(np.float32) / 255
        grid = make_grid(row, nrow=len(panels))
        frames.append(grid.repeat(scale, axis=0).repeat(scale, axis=1))
    return frames


def write_clips(out, clips: torch.Tensor, *, fps: float, columns: int | None = None) -> dict:
    """Clips (N, T, C, H, W) in [-1, 1] to ``out``: .gif/.mp4 (the N clips playing side by side), a folder (one GIF
    per clip), .npz (uint8 ``clips`` N x T x H x W x C) or .png (one row of frames per clip)."""
    folder = is_folder_output(out)
    out = check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    count, frames = clips.shape[:2]
    report = {"out": str(out), "clips": count, "frames": frames, "fps": fps, "seconds": round(frames / fps, 3)}
    if folder:
        for index in range(count):
            write_frames(panel_frames([clips[index]]), out / f"clip-{index:05d}.gif", fps=fps)
        return report
    suffix = out.suffix.lower()
    if suffix == ".npz":
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, clips=_uint8(clips), fps=np.float32(fps))
        return report
    if suffix == ".png":
        strip = _uint8(clips).reshape(count * frames, *clips.shape[3:], clips.shape[2]).astype(np.float32) / 255
        save_grid(out, strip, nrow=frames, scale=max(1, VIEW_SIDE // 2 // clips.shape[-1]))
        report.pop("seconds")
        return report
    columns = columns or count
    frames_out = []
    scale = max(1, VIEW_SIDE // clips.shape[-1])
    for t in range(frames):
        grid = make_grid(_uint8(clips[:, t : t + 1])[:, 0].astype(np.float32) / 255, nrow=columns)
        frames_out.append(grid.repeat(scale, axis=0).repeat(scale, axis=1))
    write_frames(frames_out, out, fps=fps)
    return report


def predict(
    run,
    clip,
    out,
    *,
    context: int | None = None,
    frames: int = 10,
    count: int = 4,
    seed: int = 0,
    fps: float | None = None,
    device: str = "auto",
) -> dict:
    """``count`` predicted futures of ``frames`` frames after the first ``context`` frames of ``clip``. Written
    side by side after the real clip: [real | future 1 | future 2 | ...], the context shown in every panel.
    Where the clip holds the real future, the report scores each sample's frames against it (PSNR/SSIM, mean
    and best of ``count``) beside copying the last context frame."""
    if frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    if count < 1:
        raise InputError(f"-n must be at least 1, got {count}")
    check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    model, _ = load_run(run, device=device)
    require_video_model(model, Predictor, "predict frames (svg, svg-det and dsvae runs do)")
    context = model.context_frames if context is None else context
    if context < 1:
        raise InputError(f"--context must be at least 1, got {context}")
    clip = clip_for_model(clip, model)
    if clip.shape[1] < context:
        raise InputError(f"the clip has {clip.shape[1]} frames, fewer than --context {context}")
    generator = torch.Generator().manual_seed(seed)
    futures = torch.cat([model.predict(clip[:, :context], frames, generator=generator) for _ in range(count)])
    known = clip[0, :context]
    panels = [clip[0, : context + frames]] + [torch.cat([known, future]) for future in futures]
    fps = fps or run_fps(run)
    written = write_clips(out, torch.stack([_pad(p, context + frames) for p in panels]), fps=fps)
    report = {**written, "context": context, "predicted": frames, "samples": count, "panels": "real, then each sample"}
    if clip.shape[1] >= context + frames:
        truth = clip[:, context : context + frames].expand(count, -1, -1, -1, -1)
        psnr, ssim = frame_scores(futures, truth)
        copy_psnr, copy_ssim = frame_scores(clip[:, context - 1 : context].expand_as(truth), truth)
        report["scores"] = {
            "ssim_mean": round(float(ssim.mean()), 4),
            "ssim_best": round(float(ssim.mean(1).max()), 4),
            "psnr_mean": round(float(psnr.mean()), 3),
            "copy_last_frame_ssim": round(float(copy_ssim.mean()), 4),
            "copy_last_frame_psnr": round(float(copy_psnr.mean()), 3),
        }
    else:
        report["scores"] = f"the clip has {clip.shape[1]} frames, fewer than context + frames: nothing to score against"
    return report


def _pad(clip: torch.Tensor, length: int) -> torch.Tensor:
    """A clip held on its last frame to ``length`` frames."""
    if len(clip) >= length:
        return clip[:length]
    return torch.cat([clip, clip[-1:].expand(length - len(clip), -1, -1, -1)])


def swap(run, content, motion, out, *, fps: float | None = None, device: str = "auto") -> dict:
    """A clip with the content of ``content`` and the motion of ``motion``, written as [content | motion |
    swapped] side by side."""
    check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    model, _ = load_run(run, device=device)
    require_video_model(model, ContentMotion, "swap content and motion (dsvae runs do)")
    a, b = clip_for_model(content, model), clip_for_model(motion, model)
    swapped = model.swap(a, b)[0]
    length = b.shape[1]
    panels = torch.stack([_pad(a[0], length), b[0], swapped])
    return {**write_clips(out, panels, fps=fps or run_fps(run)), "panels": "content, motion, swapped"}


def interpolate(
    run,
    first,
    last,
    out,
    *,
    frames: int = 8,
    count: int = 1,
    seed: int = 0,
    fps: float | None = None,
    device: str = "auto",
) -> dict:
    """``frames`` frames between the images FIRST and LAST, ``count`` samples side by side, each played from FIRST
    to LAST."""
    if frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    model, _ = load_run(run, device=device)
    require_video_model(model, Interpolator, "interpolate between frames (video-ddpm runs do)")
    start, end = frame_for_model(first, model), frame_for_model(last, model)
    generator = torch.Generator().manual_seed(seed)
    between = torch.cat([model.interpolate_frames(start, end, frames, generator=generator) for _ in range(count)])
    clips = torch.cat([start.expand(count, -1, -1, -1, -1), between, end.expand(count, -1, -1, -1, -1)], dim=1)
    return {**write_clips(out, clips, fps=fps or run_fps(run)), "between": frames}


def sample_clips(
    model, run, out, *, count: int, seed: int, fps: float | None = None, sampling: dict | None = None
) -> dict:
    """``count`` clips drawn from a video run (see ``write_clips`` for the outputs); ``sampling``: sampler
    options for runs that sample iteratively (video-ddpm)."""
    check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    clips = model.generate(count, seed=seed, sampling=sampling)
    columns = int(np.ceil(np.sqrt(count)))
    return write_clips(out, clips, fps=fps or run_fps(run), columns=columns)
