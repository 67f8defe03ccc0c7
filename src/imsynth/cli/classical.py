"""The classical commands: ``texture``, ``resize``, ``blend``, ``warp``, ``animate``, ``morph``. They never import
torch (an import-linter contract), so they start in a fraction of a second. Choices and per-method options come
from the tables in ``imsynth.classical``; the work is one call into ``imsynth.apps.classical``."""

from __future__ import annotations

import click

from ..apps.classical import animate_file, blend_files, morph_files, resize_file, texture_file, warp_file
from ..classical.animate import MORPHS
from ..classical.resample import RESAMPLING
from ..classical.texture import TEXTURES
from ..classical.warp import WARPS
from .options import BIT_DEPTH, depth, given, method_choice, size, table_options


@click.command()
@click.argument("sample", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--size", "size_text", required=True, help="WIDTHxHEIGHT of the result")
@method_choice(TEXTURES, default="quilting")
@table_options(TEXTURES)
@BIT_DEPTH
def texture(sample, out, size_text, method, bit_depth, **values):
    """Synthesise a texture of --size from a SAMPLE image.

    \b
    Example:
      imsynth texture brick.png -o wall.png --size 256x256 --method quilting --block 24
      imsynth texture grass.png -o lawn.png --size 512x256 --method multiscale --seed 3
    """
    options = given(TEXTURES, values)
    click.echo(
        str(texture_file(sample, out, size=size(size_text), method=method, bit_depth=depth(bit_depth), **options))
    )


@click.command()
@click.argument("image", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--scale", type=float, help="factor for both sides (0.5 halves)")
@click.option("--size", "size_text", help="WIDTHxHEIGHT instead of --scale")
@method_choice(RESAMPLING, default="bicubic")
@BIT_DEPTH
def resize(image, out, scale, size_text, method, bit_depth):
    """Resize IMAGE (pixel centres at i + 0.5; anti-aliased when shrinking).

    \b
    Example:
      imsynth resize photo.png -o half.png --scale 0.5 --method area
      imsynth resize icon.png -o big.png --size 512x512 --method lanczos
    """
    click.echo(
        str(
            resize_file(
                image,
                out,
                scale=scale,
                size=None if size_text is None else size(size_text),
                method=method,
                bit_depth=depth(bit_depth),
            )
        )
    )


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.argument("mask", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--levels", type=int, help="pyramid levels (default: as many as fit)")
@BIT_DEPTH
def blend(a, b, mask, out, levels, bit_depth):
    """Multiband (Laplacian pyramid) blend: B where MASK is nonzero, A elsewhere.

    \b
    Example:
      imsynth blend apple.png orange.png left-half.png -o orapple.png --levels 6
    """
    click.echo(str(blend_files(a, b, mask, out, levels=levels, bit_depth=depth(bit_depth))))


@click.command("warp")
@click.argument("image", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@method_choice(WARPS, required=True)
@click.option("--points", "points_path", type=click.Path(), help='JSON {"src": [[x, y], ...], "dst": [[x, y], ...]}')
@table_options(WARPS)
@BIT_DEPTH
def warp(image, out, method, points_path, bit_depth, **values):
    """Warp IMAGE so control points move from src to dst (coordinates (x, y) in pixels).

    \b
    Example:
      imsynth warp face.png -o bent.png --method mls-rigid --points drag.json
      imsynth warp photo.png -o swirl.png --method swirl --strength 4
    """
    click.echo(
        str(
            warp_file(
                image, out, method=method, points_path=points_path, bit_depth=depth(bit_depth), **given(WARPS, values)
            )
        )
    )


@click.command()
@click.argument("image", type=click.Path())
@click.option("--keyframes", "keyframes_path", required=True, type=click.Path(), help="keyframes JSON (see docs)")
@click.option("-o", "out", required=True, type=click.Path(), help="OUT.gif, OUT.mp4 or a folder/ of PNG frames")
@click.option("--fps", type=float, help="frames per second (default: the keyframe file's, else 12)")
def animate(image, keyframes_path, out, fps):
    """Animate IMAGE by warping it through keyframed control points.

    \b
    Example:
      imsynth animate face.png --keyframes nod.json -o nod.gif
    """
    click.echo(str(animate_file(image, keyframes_path, out, fps=fps)))


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="OUT.gif, OUT.mp4 or a folder/ of PNG frames")
@click.option("--frames", default=30, show_default=True, type=int)
@method_choice(MORPHS)
@click.option("--points", "points_path", type=click.Path(), help='JSON {"a": [[x, y], ...], "b": [[x, y], ...]}')
@click.option(
    "--lines", "lines_path", type=click.Path(), help='JSON {"lines_a": [[[x1, y1], [x2, y2]], ...], "lines_b": [...]}'
)
@click.option("--fps", default=12.0, show_default=True, type=float)
def morph(a, b, out, frames, method, points_path, lines_path, fps):
    """Morph image A into B (B is resized to A's size when they differ). Default method: mesh with --points,
    beier-neely with --lines, else dissolve.

    \b
    Example:
      imsynth morph cat.png dog.png -o morph.gif --frames 30 --points pairs.json
      imsynth morph a.png b.png -o morph.mp4 --lines features.json --method beier-neely
    """
    click.echo(
        str(
            morph_files(
                a, b, out, frames=frames, method=method, points_path=points_path, lines_path=lines_path, fps=fps
            )
        )
    )
