"""Video metrics: prediction quality per future frame (PSNR/SSIM, mean and best of N samples, the SVG/SRVP
protocol) against copying the last context frame, and content/motion agreement of swapped clips.

Clips are float B x T x C x H x W in [-1, 1]; scores are computed on [0, 1] intensities. SSIM is torchmetrics'
(Gaussian window of 11, or the largest odd window that fits a small frame).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from ..models.video import brightness_centres


def frame_scores(predicted: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame PSNR (dB) and SSIM, each (B, T), of predicted clips against the true ones."""
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and true {tuple(truth.shape)} clips differ in shape")
    a = ((predicted.float() + 1) / 2).clamp(0, 1).flatten(0, 1)
    b = ((truth.float() + 1) / 2).clamp(0, 1).flatten(0, 1)
    mse = (a - b).pow(2).mean(dim=(1, 2, 3))
    psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
    window = min(11, a.shape[-1] - (1 - a.shape[-1] % 2))
    ssim = structural_similarity_index_measure(a, b, data_range=1.0, kernel_size=window, reduction="none")
    shape = predicted.shape[:2]
    return psnr.view(shape), ssim.view(shape)


def _summary(per_frame: torch.Tensor) -> dict:
    curve = per_frame.mean(0)
    return {"per_frame": [round(float(v), 4) for v in curve], "average": round(float(curve.mean()), 4)}


def score_futures(futures: torch.Tensor, clips: torch.Tensor, context: int) -> dict:
    """Predicted futures (S samples, B clips, T frames, C, H, W) against the clips' real frames after ``context``:
    SSIM and PSNR per future frame for the mean over samples and for the best sample (per clip, the one with the
    highest mean SSIM: the SVG/SRVP protocol), beside copying the last context frame."""
    frames = futures.shape[2]
    if clips.shape[1] < context + frames:
        raise ValueError(f"clips of {clips.shape[1]} frames are shorter than context {context} + frames {frames}")
    truth = clips[:, context : context + frames].float()
    scores = [frame_scores(future, truth) for future in futures]
    psnr, ssim = torch.stack([p for p, _ in scores]), torch.stack([s for _, s in scores])  # (S, B, T)
    best = ssim.mean(dim=2).argmax(dim=0)

    def pick(values: torch.Tensor) -> torch.Tensor:
        return values.gather(0, best[None, :, None].expand(1, -1, values.shape[2]))[0]

    copy_psnr, copy_ssim = frame_scores(clips[:, context - 1 : context].float().expand_as(truth), truth)
    return {
        "context": context,
        "frames": frames,
        "samples": len(futures),
        "clips": len(clips),
        "ssim": {"best": _summary(pick(ssim)), "mean": _summary(ssim.mean(0))},
        "psnr": {"best": _summary(pick(psnr)), "mean": _summary(psnr.mean(0))},
        "copy_last_frame": {"ssim": _summary(copy_ssim), "psnr": _summary(copy_psnr)},
    }


@torch.no_grad()
def prediction_report(
    model, clips: torch.Tensor, *, context: int, frames: int, samples: int = 20, seed: int = 0
) -> dict:
    """``samples`` futures of ``frames`` frames per clip from ``model``, scored by ``score_futures``."""
    generator = torch.Generator().manual_seed(seed)
    context_clips = clips[:, :context]
    futures = torch.stack([model.predict(context_clips, frames, generator=generator) for _ in range(samples)])
    return score_futures(futures, clips, context)


def centroids(clips: torch.Tensor) -> torch.Tensor:
    """The brightness-weighted centre (x, y) in pixels of every frame: (B, T, 2)."""
    size = torch.tensor([clips.shape[-1], clips.shape[-2]], dtype=torch.float32, device=clips.device)
    return (brightness_centres(clips) + 1) * size / 2 - 0.5


def crop_items(clips: torch.Tensor, size: int) -> torch.Tensor:
    """A ``size`` square around each frame's centroid (for a classifier of single items): (B*T, C, size, size)."""
    flat = clips.flatten(0, 1).float()
    centre = centroids(clips).flatten(0, 1)
    half = size // 2
    padded = F.pad(flat, (half, half, half, half), value=-1.0)
    out = []
    for frame, (x, y) in zip(padded, centre.round().long().tolist()):
        out.append(frame[:, y : y + size, x : x + size])
    return torch.stack(out)


@torch.no_grad()
def _items_named(clips: torch.Tensor, classifier, item_size: int) -> np.ndarray:
    """The classifier's label for each one-item clip: its majority over the frames' item crops."""
    votes = classifier(crop_items(clips, item_size)).argmax(1).view(len(clips), -1).cpu().numpy()
    return np.array([np.bincount(row).argmax() for row in votes])


def _mean_item(clips: torch.Tensor, size: int) -> torch.Tensor:
    """Each clip's item, the ``size`` square around its centroid averaged over the frames: (B, C, size, size)."""
    return crop_items(clips, size).unflatten(0, clips.shape[:2]).mean(1)


@torch.no_grad()
def swap_report(
    swapped: torch.Tensor,
    motion: torch.Tensor,
    content_labels: torch.Tensor,
    classifier,
    *,
    item_size: int,
    tolerance: float,
    content_clips: torch.Tensor | None = None,
    renderings: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict:
    """For clips of one moving item: content kept = the classifier, shown each swapped frame's item, names the
    content clip's label (by majority over the frames); motion kept = the swapped item's path stays within
    ``tolerance`` pixels (mean over frames) of the motion clip's. Given the content clips, also the share where
    the classifier names the swapped item as it names the content clip's own (the classifier's errors on real
    items then cost nothing: that measure's ceiling is 1). Given the model's own renderings (reconstructions) of
    the content clips and of the motion clips, also the share where the swapped item, averaged over the frames
    around its centroid, is nearer the content clip's rendering than the motion clip's: whose item it is,
    whatever the blur of the model's drawing (chance 0.5)."""
    majority = _items_named(swapped, classifier, item_size)
    content = float((majority == content_labels.cpu().numpy()).mean())
    distance = (centroids(swapped) - centroids(motion)).norm(dim=-1).mean(dim=1)
    agrees = {}
    if content_clips is not None:
        agrees["content_as_classified"] = round(
            float((majority == _items_named(content_clips, classifier, item_size)).mean()), 4
        )
    if renderings is not None:
        item = _mean_item(swapped, item_size)
        own, other = (((item - _mean_item(r, item_size)) ** 2).flatten(1).mean(1) for r in renderings)
        agrees["content_nearer_own_rendering"] = round(float((own < other).float().mean()), 4)
    return {
        "content_kept": round(content, 4),
        **agrees,
        "motion_kept": round(float((distance <= tolerance).float().mean()), 4),
        "mean_path_distance_px": round(float(distance.mean()), 3),
        "tolerance_px": tolerance,
        "clips": len(swapped),
    }


BROKEN = ("shuffled", "repeated", "independent")


def broken_clips(clips: torch.Tensor, how: str, *, seed: int = 0) -> torch.Tensor:
    """Real clips with their motion destroyed, the checks a video distance must pass (score clearly worse than
    the real clips): ``shuffled`` frames in a random order per clip, ``repeated``: one frame of the clip shown
    throughout, ``independent``: each frame from another clip (every frame real, the motion none)."""
    generator = torch.Generator().manual_seed(seed)
    count, frames = clips.shape[:2]
    if how == "shuffled":
        order = torch.stack([torch.randperm(frames, generator=generator) for _ in range(count)])
    elif how == "repeated":
        order = torch.randint(0, frames, (count, 1), generator=generator).expand(count, frames)
    elif how == "independent":
        donors = torch.stack([torch.randperm(count, generator=generator) for _ in range(frames)], dim=1)
        return clips[donors, torch.arange(frames)[None, :]]
    else:
        raise ValueError(f"unknown breakage {how!r}; one of {', '.join(BROKEN)}")
    return clips[torch.arange(count)[:, None], order]
