"""Rows of the action table for video runs: predict what comes after a clip, swap content and motion."""

from __future__ import annotations

from ...tables import Action, Param
from .base import DEVICE, RUN_ARGUMENT, SAMPLER, SEED, STEPS, input_param, out_param, register_action

CLIP_OUT = "clips.gif or .mp4 (the panels side by side), DIR/ (a GIF each), .npz (uint8 clips) or strip.png"
FPS = Param("fps", float, None, "frames per second of the written clip (default: the run's training clips')", low=0)

register_action(
    Action(
        "predict",
        "imsynth.apps.video:predict",
        "Predict the frames after the first --context frames of CLIP, -n samples of the future, beside the real clip.",
        (
            RUN_ARGUMENT,
            input_param("clip", "clip", "the clip: a video file, a GIF, a folder of frames or an .npz"),
            out_param(CLIP_OUT),
            Param("context", int, None, "frames given (default: the run's)", low=1),
            Param("frames", int, 10, "frames to predict", low=1, high=1000),
            Param("count", int, 4, "samples of the future", flag="-n", low=1, high=64),
            SEED,
            FPS,
            SAMPLER,
            STEPS,
            DEVICE,
        ),
        description="Where the clip holds the real future, the report scores every sample against it (SSIM, PSNR) "
        "beside copying the last context frame.",
        examples=(
            "imsynth predict runs/svg walk.mp4 --context 5 --frames 10 -n 8 -o futures.gif",
            "imsynth predict runs/dsvae frames/ --frames 20 -o futures.mp4",
        ),
        reports=True,
        needs=frozenset({"predictor"}),
        groups=("video",),
        button="Predict",
        studio_suffix=".gif",
    )
)
register_action(
    Action(
        "swap",
        "imsynth.apps.video:swap",
        "A clip with the content of CONTENT and the motion of MOTION (dsvae runs), beside both.",
        (
            RUN_ARGUMENT,
            input_param("content", "clip", "the clip whose content (what is shown) to keep"),
            input_param("motion", "clip", "the clip whose motion (how it moves) to keep"),
            out_param(CLIP_OUT),
            FPS,
            DEVICE,
        ),
        examples=("imsynth swap runs/dsvae shirt.gif shoe.gif -o swapped.gif",),
        reports=True,
        needs=frozenset({"content-motion"}),
        groups=("video",),
        button="Swap",
        studio_suffix=".gif",
    )
)
register_action(
    Action(
        "interpolate",
        "imsynth.apps.video:interpolate",
        "The frames between the images FIRST and LAST (video-ddpm runs), -n samples side by side.",
        (
            RUN_ARGUMENT,
            input_param("first", "image", "the first frame"),
            input_param("last", "image", "the last frame"),
            out_param(CLIP_OUT),
            Param("frames", int, 8, "frames between", low=1, high=1000),
            Param("count", int, 1, "samples", flag="-n", low=1, high=64),
            SEED,
            FPS,
            SAMPLER,
            STEPS,
            DEVICE,
        ),
        examples=("imsynth interpolate runs/video-ddpm first.png last.png --frames 8 -o between.gif",),
        reports=True,
        needs=frozenset({"interpolator"}),
        groups=("video",),
        button="Interpolate",
        studio_suffix=".gif",
    )
)
