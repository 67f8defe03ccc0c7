"""``compress`` and ``decompress``: images to ``.isz`` streams and back with a trained codec; each command is one
call into ``imsynth.apps.compress``."""

from __future__ import annotations

import json

import click

from ..apps.compress import compress_path, decompress_path
from .options import DEVICE


@click.command()
@click.argument("source", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output .isz file, or a folder for a folder")
@click.option(
    "--model", "run", required=True, type=click.Path(), help="a trained codec run (factorized, hyperprior, or a VAE)"
)
@click.option("--quality", type=int, help="1 (smallest file) .. the codec's highest; default the middle one")
@DEVICE
def compress(source, out, run, quality, device):
    """Compress SOURCE (an image or a folder of images) into .isz streams with a trained codec.

    Prints the number of files, bytes and bits per pixel as JSON.

    \b
    Example:
      imsynth train hyperprior --data photos --out runs/hp --minutes 60
      imsynth compress photo.png -o photo.isz --model runs/hp --quality 4
      imsynth compress scans/ -o packed/ --model runs/hp
    """
    click.echo(json.dumps(compress_path(source, out, run, quality=quality, device=device)))


@click.command()
@click.argument("source", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image (suffix picks the format), or a folder")
@click.option("--model", "run", type=click.Path(), help="the codec run that made the stream")
@click.option(
    "--runs",
    default="runs",
    show_default=True,
    type=click.Path(),
    help="without --model: find the run here by fingerprint",
)
@DEVICE
def decompress(source, out, run, runs, device):
    """Decompress SOURCE (an .isz file or a folder of them) back to images.

    Without --model, the run whose weights made the stream is looked for under --runs (the stream carries
    a fingerprint of the codec's weights).

    \b
    Example:
      imsynth decompress photo.isz -o photo.png --model runs/hp
      imsynth decompress packed/ -o unpacked/
    """
    click.echo(json.dumps(decompress_path(source, out, run, runs=runs, device=device)))
