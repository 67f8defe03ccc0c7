"""The two listings that are not actions (every command with options is made from the action table): ``datasets``
and ``models``. Each is one call into the API."""

from __future__ import annotations

import json

import click

from ..config import to_dict
from ..data import list_datasets
from ..models import MODEL_REGISTRY, presets_for


@click.command()
def datasets() -> None:
    """List every dataset, whether it is available here, its size and where it is.

    \b
    Example:
      imsynth datasets
    """
    for row in list_datasets():
        mark = "yes" if row["available"] else "NO "
        click.echo(f"{row['name']:<14} {mark}  {row['size']:<40} {row['where']}")


@click.command()
def models() -> None:
    """List registered models and their default configs.

    \b
    Example:
      imsynth models
    """
    for name, entry in sorted(MODEL_REGISTRY.items()):
        click.echo(f"{name:<12} {entry.description}")
        shown = {
            k: v
            for k, v in to_dict(entry.default_config()).items()
            if k not in ("channels", "image_size", "num_classes", "dataset_size")
        }
        click.echo(f"{'':<12} {json.dumps(shown)}")
        for preset in presets_for(name):
            click.echo(f"{'':<12} --preset {preset.budget}: {' '.join(preset.settings)}")
            click.echo(f"{'':<12}   ({preset.description})")
