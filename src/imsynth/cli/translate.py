"""``stylize`` (example-based style transfer; names and options from the STYLIZERS table) and ``translate``
(a trained translation run); each one call into the apps."""

from __future__ import annotations

import json

import click

from ..apps.stylize import STYLIZERS, stylize_path
from ..apps.translate import translate_path
from .options import DEVICE, given, method_choice, table_options


@click.command()
@click.argument("content", type=click.Path())
@click.argument("style", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@method_choice(STYLIZERS, default="gram")
@table_options(STYLIZERS)
@DEVICE
def stylize(content, style, out, method, device, **values):
    """Redraw CONTENT in the look of STYLE, with no pretrained network.

    gram optimises the image against Gram statistics of random multi-scale features (Gatys et al. without
    VGG); quilt rebuilds it from blocks of the style guided by the content's luminance (Efros & Freeman).
    Prints the output path and seconds as JSON.

    \b
    Example:
      imsynth stylize photo.png bricks.png -o bricky.png --method gram --strength 10
      imsynth stylize photo.png bricks.png -o quilted.png --method quilt --block 32
    """
    click.echo(
        json.dumps(stylize_path(content, style, out, method_name=method, device=device, **given(STYLIZERS, values)))
    )


@click.command()
@click.argument("source", type=click.Path())
@click.option(
    "-o", "out", required=True, type=click.Path(), help="output image, or a folder (ending in /) for a folder"
)
@click.option(
    "--model",
    "run",
    required=True,
    type=click.Path(),
    help="a trained translation run (pix2pix: a2b; cyclegan: a2b or b2a)",
)
@click.option("--direction", type=click.Choice(["a2b", "b2a"]), default="a2b", show_default=True)
@DEVICE
def translate(source, out, run, direction, device):
    """Translate SOURCE (an image or a folder of images) from one domain to the other.

    \b
    Example:
      imsynth train pix2pix --data "pairs:fashion-mnist~edges" --out runs/p2p --minutes 30
      imsynth translate edges.png -o item.png --model runs/p2p
    """
    click.echo(json.dumps(translate_path(source, out, run, direction=direction, device=device)))
