"""Rows of the action table that need no trained run: classical synthesis and deformation."""

from __future__ import annotations

from ...tables import REQUIRED, Action, Param
from .base import (
    BIT_DEPTH,
    DEVICE,
    input_param,
    out_param,
    parse_size,
    register_action,
    run_param,
)

register_action(
    Action(
        "inpaint",
        "imsynth.apps.inpaint:inpaint_file",
        "Fill the hole of IMAGE where MASK (a PNG, nonzero = hole) is set.",
        (
            input_param("image_path", example="astronaut"),
            input_param("mask_path", "mask", "nonzero = hole"),
            out_param("output image"),
            Param(
                "method",
                default=REQUIRED,
                choices="imsynth.apps.inpaint:INPAINT_METHODS",
                options="**",
                example="patchmatch",
            ),
            run_param("trained run for the model methods"),
            Param("class_index", int, None, "the image's class (conditional models)", flag="--class"),
            BIT_DEPTH,
            DEVICE,
        ),
        examples=(
            "imsynth inpaint shirt.png hole.png -o filled.png --method gan --model runs/dcgan",
            "imsynth inpaint shirt.png hole.png -o filled.png --method diffusion --model runs/ddpm",
            "imsynth inpaint photo.png hole.png -o filled.png --method patchmatch --source grass.png",
            "imsynth inpaint scan16.png hole.png -o filled.png --method biharmonic   (16 bits in, 16 bits out)",
        ),
        groups=("classical", "restore"),
        button="Fill",
    )
)

# ------------------------------------------------------------------------------------------------- generate
register_action(
    Action(
        "texture",
        "imsynth.apps.classical:texture_file",
        "Synthesise a texture of --size from a SAMPLE image.",
        (
            input_param("sample_path", help_text="the sample texture", example="brick"),
            out_param("output image"),
            Param("size", default=REQUIRED, help="WIDTHxHEIGHT of the result", convert=parse_size, example="192x192"),
            Param("method", default="quilting", choices="imsynth.classical.texture:TEXTURES", options="**"),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth texture brick.png -o wall.png --size 256x256 --method quilting --block 24",
            "imsynth texture grass.png -o lawn.png --size 512x256 --method multiscale --seed 3",
        ),
        groups=("classical",),
        button="Synthesise",
    )
)
register_action(
    Action(
        "resize",
        "imsynth.apps.classical:resize_file",
        "Resize IMAGE (pixel centres at i + 0.5; anti-aliased when shrinking).",
        (
            input_param("image_path", example="camera"),
            out_param("output image"),
            Param("scale", float, None, "factor for both sides (0.5 halves)", example=0.5),
            Param("size", default=None, help="WIDTHxHEIGHT instead of --scale", convert=parse_size),
            Param("method", default="bicubic", choices="imsynth.classical.resample:RESAMPLING"),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth resize photo.png -o half.png --scale 0.5 --method area",
            "imsynth resize icon.png -o big.png --size 512x512 --method lanczos",
        ),
        groups=("classical",),
        button="Resize",
    )
)
register_action(
    Action(
        "blend",
        "imsynth.apps.classical:blend_files",
        "Multiband (Laplacian pyramid) blend: B where MASK is nonzero, A elsewhere.",
        (
            input_param("a_path", help_text="image A", example="blend_a"),
            input_param("b_path", help_text="image B", example="blend_b"),
            input_param("mask_path", "mask", "nonzero = take B", example="blend_mask"),
            out_param("output image"),
            Param("levels", int, None, "pyramid levels (default: as many as fit)", low=1),
            BIT_DEPTH,
        ),
        examples=("imsynth blend apple.png orange.png left-half.png -o orapple.png --levels 6",),
        groups=("classical",),
        button="Blend",
    )
)
register_action(
    Action(
        "warp",
        "imsynth.apps.classical:warp_file",
        "Warp IMAGE so control points move from src to dst (coordinates (x, y) in pixels).",
        (
            input_param("image_path", example="astronaut"),
            out_param("output image"),
            Param("method", default=REQUIRED, choices="imsynth.classical.warp:WARPS", options="**", example="tps"),
            Param(
                "points_path",
                default=None,
                help='JSON {"src": [[x, y], ...], "dst": [[x, y], ...]}',
                kind="points",
                flag="--points",
                example="warp_points",
            ),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth warp face.png -o bent.png --method mls-rigid --points drag.json",
            "imsynth warp photo.png -o swirl.png --method swirl --strength 4",
        ),
        groups=("deform",),
        button="Warp",
    )
)
register_action(
    Action(
        "animate",
        "imsynth.apps.classical:animate_file",
        "Animate IMAGE by warping it through keyframed control points.",
        (
            input_param("image_path", example="astronaut_small"),
            Param(
                "keyframes_path",
                default=REQUIRED,
                help="keyframes JSON (see docs)",
                kind="json",
                flag="--keyframes",
                example="keyframes",
            ),
            out_param("OUT.gif, OUT.mp4 or a folder/ of PNG frames"),
            Param("fps", float, None, "frames per second (default: the keyframe file's, else 12)", low=0),
        ),
        examples=("imsynth animate face.png --keyframes nod.json -o nod.gif",),
        groups=("deform",),
        button="Animate",
        studio_suffix=".gif",
    )
)
register_action(
    Action(
        "morph",
        "imsynth.apps.classical:morph_files",
        "Morph image A into B (B is resized to A's size when they differ).",
        (
            input_param("a_path", help_text="image A", example="morph_a"),
            input_param("b_path", help_text="image B", example="morph_b"),
            out_param("OUT.gif, OUT.mp4 or a folder/ of PNG frames"),
            Param("frames", int, 30, "frames of the morph", low=2),
            Param("method", default=None, choices="imsynth.classical.animate:MORPHS"),
            Param(
                "points_path", default=None, help='JSON {"a": [[x, y], ...], "b": [...]}', kind="json", flag="--points"
            ),
            Param(
                "lines_path",
                default=None,
                help='JSON {"lines_a": [[[x1, y1], [x2, y2]], ...], "lines_b": [...]}',
                kind="json",
                flag="--lines",
            ),
            Param("fps", float, 12.0, "frames per second", low=0),
        ),
        description="Default method: mesh with --points, beier-neely with --lines, else dissolve.",
        examples=(
            "imsynth morph cat.png dog.png -o morph.gif --frames 30 --points pairs.json",
            "imsynth morph a.png b.png -o morph.mp4 --lines features.json --method beier-neely",
        ),
        groups=("deform",),
        button="Morph",
        studio_suffix=".gif",
    )
)
