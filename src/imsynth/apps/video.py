"""What users do with video runs: predict the frames after a clip, swap content and motion between clips, and
write clips (GIF, MP4, a folder of GIFs, .npz, or a PNG strip). Every clip written states its frame rate and
duration in the report."""

from __future__ import annotations

import numpy as np
import torch

from ..clips import CLIP_OUTPUTS, DEFAULT_FPS, fit_frame, read_clip, stored_fps, write_frames
from ..errors import InputError
from ..image import check_output, is_folder_output, make_grid, read_image, save_grid, save_npz
from ..metrics.video import score_futures
from ..models import MODEL_REGISTRY, load_run, sampling_defaults
from ..runtime import runs as ckpt
from ..runtime.tensors import tensor_to_uint8, to_model

CLIP_WRITES = (*CLIP_OUTPUTS, ".npz", ".png")
VIEW_SIDE = 96  # small frames are enlarged (nearest neighbour) to at least this side for viewing


def run_fps(run) -> float:
    """The frame rate of the clips a run was trained on (``DEFAULT_FPS`` when the run does not say)."""
    saved = ckpt.read_json(ckpt.require_run(run) / ckpt.CONFIG)
    return float(saved.get("data", {}).get("fps", DEFAULT_FPS))


def require_video_model(model, capability: str, doing: str):
    """Refuse a run whose family does not declare ``capability``, naming the families that do."""
    if capability in type(model).capabilities:
        return model
    able = sorted(entry.name for entry in MODEL_REGISTRY if capability in entry.model_class.capabilities)
    works_on = "clips" if "clips" in type(model).capabilities else "images, not clips"
    raise InputError(f"model {model.registered_name!r} ({works_on}) cannot {doing}; runs of {', '.join(able)} can")


def _as_clip(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 H x W x C frames -> one clip (1, T, C, H, W) in [-1, 1]."""
    return to_model(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2))[None]


def clip_for_model(path, model) -> torch.Tensor:
    """A clip file or folder as the model's clips: (1, T, C, H, W) in [-1, 1], the centre square of each frame
    resized to the run's side and converted to its channels."""
    return _as_clip([fit_frame(frame, model.config.image_size, model.config.channels) for frame in read_clip(path)])


def frame_for_model(path, model) -> torch.Tensor:
    """An image file as a one-frame clip of the model's (1, 1, C, H, W) in [-1, 1]."""
    image, _ = read_image(path)
    uint8 = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return _as_clip(
        [fit_frame(uint8 if uint8.ndim == 3 else uint8[..., None], model.config.image_size, model.config.channels)]
    )


def _uint8(clips: torch.Tensor) -> np.ndarray:
    """(N, T, C, H, W) in [-1, 1] -> uint8 (N, T, H, W, C)."""
    return tensor_to_uint8(clips.flatten(0, 1)).reshape(*clips.shape[:2], *clips.shape[3:], clips.shape[2])


def _playing(clips: torch.Tensor, columns: int) -> list[np.ndarray]:
    """The frames of clips (N, T, C, H, W) playing side by side, ``columns`` a row, enlarged for viewing."""
    pictures = _uint8(clips).astype(np.float32) / 255
    scale = max(1, VIEW_SIDE // clips.shape[-1])
    return [
        make_grid(pictures[:, t], nrow=columns).repeat(scale, axis=0).repeat(scale, axis=1)
        for t in range(clips.shape[1])
    ]


def write_clips(out, clips: torch.Tensor, *, fps: float, columns: int | None = None) -> dict:
    """Clips (N, T, C, H, W) in [-1, 1] to ``out``: .gif/.mp4 (the N clips playing side by side), a folder (one GIF
    per clip), .npz (uint8 ``clips`` N x T x H x W x C) or .png (one row of frames per clip)."""
    folder = is_folder_output(out)
    out = check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    count, frames = clips.shape[:2]
    played = stored_fps(out, fps)
    report = {"out": str(out), "clips": count, "frames": frames, "fps": played, "seconds": round(frames / played, 3)}
    if folder:
        for index in range(count):
            write_frames(_playing(clips[index : index + 1], 1), out / f"clip-{index:05d}.gif", fps=fps)
        return report
    suffix = out.suffix.lower()
    if suffix == ".npz":
        save_npz(out, clips=_uint8(clips), fps=np.float32(fps))
        return report
    if suffix == ".png":
        strip = _uint8(clips).reshape(count * frames, *clips.shape[3:], clips.shape[2]).astype(np.float32) / 255
        save_grid(out, strip, nrow=frames, scale=max(1, VIEW_SIDE // 2 // clips.shape[-1]))
        report.pop("seconds")
        return report
    write_frames(_playing(clips, columns or count), out, fps=fps)
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
    sampler: str | None = None,
    steps: int | None = None,
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
    require_video_model(model, "predictor", "predict frames")
    context = model.context_frames if context is None else context
    if context < 1:
        raise InputError(f"--context must be at least 1, got {context}")
    clip = clip_for_model(clip, model)
    if clip.shape[1] < context:
        raise InputError(f"the clip has {clip.shape[1]} frames, fewer than --context {context}")
    generator = torch.Generator().manual_seed(seed)
    with sampling_defaults(model, sampler, steps):
        futures = torch.cat([model.predict(clip[:, :context], frames, generator=generator) for _ in range(count)])
    known = clip[0, :context]
    panels = [clip[0, : context + frames]] + [torch.cat([known, future]) for future in futures]
    fps = fps or run_fps(run)
    written = write_clips(out, torch.stack([_pad(p, context + frames) for p in panels]), fps=fps)
    report = {**written, "context": context, "predicted": frames, "samples": count, "panels": "real, then each sample"}
    if clip.shape[1] >= context + frames:
        report["scores"] = score_futures(futures[:, None], clip, context)
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
    require_video_model(model, "content-motion", "swap content and motion")
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
    sampler: str | None = None,
    steps: int | None = None,
    device: str = "auto",
) -> dict:
    """``frames`` frames between the images FIRST and LAST, ``count`` samples side by side, each played from FIRST
    to LAST."""
    if frames < 1:
        raise InputError(f"--frames must be at least 1, got {frames}")
    check_output(out, suffixes=CLIP_WRITES, folder_ok=True)
    model, _ = load_run(run, device=device)
    require_video_model(model, "interpolator", "interpolate between frames")
    start, end = frame_for_model(first, model), frame_for_model(last, model)
    generator = torch.Generator().manual_seed(seed)
    with sampling_defaults(model, sampler, steps):
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
