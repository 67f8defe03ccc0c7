"""The commands that are not actions (those are made from the action table, ``train`` among them): ``datasets``,
``models``, ``features``, ``demo``. Choices come from the tables (models, presets); each command is one call into
the API."""

from __future__ import annotations

import json

import click

from ..apps.demo import run_demo
from ..config import to_dict
from ..data import list_datasets, load_dataset
from ..errors import InputError
from ..metrics.clip_features import shipped_clip_path, train_clip_feature_net
from ..metrics.features import describe_shipped, shipped_path, train_feature_net
from ..models import MODEL_REGISTRY, presets_for
from ..runtime.classifier import ARCHITECTURES


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


@click.group()
def features() -> None:
    """In-domain feature networks for FID/KID/precision-recall."""


@features.command("train")
@click.option("--data", "data_name", required=True, help="a labelled dataset")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(), help="weights file (default: the package's shipped location)")
@click.option(
    "--adversarial-eps", default=0.0, show_default=True, type=float, help="PGD adversarial training (0-1 scale)"
)
@click.option(
    "--adversarial-steps", default=7, show_default=True, type=click.IntRange(min=1), help="PGD steps per batch"
)
@click.option(
    "--architecture",
    type=click.Choice(ARCHITECTURES),
    default="vgg",
    show_default=True,
    help="vgg: the first shipped network; resnet: the second (another architecture, trained independently)",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--quiet", is_flag=True)
def features_train(data_name, epochs, out, adversarial_eps, adversarial_steps, architecture, seed, quiet):
    """Train a feature network (a classifier) on a dataset's train split and report test accuracy.

    \b
    Example:
      imsynth features train --data fashion-mnist --epochs 10
      imsynth features train --data fashion-mnist --adversarial-eps 0.1 --out robust.safetensors
      imsynth features train --data fashion-mnist --architecture resnet --seed 1   # the second shipped network
      imsynth features train --data 'moving-fashion?stochastic=1&train=8000' --epochs 6   # the clip network (FVD)
    """
    if adversarial_eps < 0:
        raise InputError(f"--adversarial-eps must be >= 0, got {adversarial_eps}")
    if adversarial_eps > 0 and out is None:
        raise InputError("an adversarially trained network is no feature network for FID: give --out")
    dataset = load_dataset(data_name)
    if dataset.kind == "clips":  # the 3D network of the video metrics (FVD, swaps), with a head per known factor
        if adversarial_eps > 0 or architecture != "vgg":
            raise InputError(f"{data_name}: a clip feature network has one architecture and no adversarial training")
        _, info = train_clip_feature_net(
            dataset, out or shipped_clip_path(data_name), epochs=epochs, seed=seed, quiet=quiet
        )
        click.echo(json.dumps(info))
        return
    _, info = train_feature_net(
        dataset,
        out or shipped_path(data_name, architecture),
        epochs=epochs,
        seed=seed,
        architecture=architecture,
        quiet=quiet,
        adversarial_eps=adversarial_eps,
        adversarial_steps=adversarial_steps,
    )
    click.echo(json.dumps(info))


@features.command("list")
def features_list() -> None:
    """Show the shipped feature networks and their test accuracy."""
    for row in describe_shipped():
        click.echo(json.dumps(row))


@click.command()
@click.option("--out", default="demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--steps", default=3000, show_default=True, type=int)
@click.option("--quiet", is_flag=True)
def demo(out, steps, quiet):
    """Train a VAE on the bundled digits (about a minute) and write pictures and metrics to --out.

    \b
    Example:
      imsynth demo --out demo && open demo/index.html
    """
    index = run_demo(out, steps=steps, quiet=quiet)
    click.echo(f"wrote {index}")
