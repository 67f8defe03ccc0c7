"""The commands that are not actions (those are made from the action table): ``datasets``, ``models``, ``train``,
``features``, ``demo``. Choices come from the tables (models, presets); each command is one call into the API."""

from __future__ import annotations

import json
import os

import click

from ..apps.demo import run_demo
from ..config import read_config_file, to_dict
from ..data import list_datasets, load_dataset
from ..errors import InputError
from ..metrics.clip_features import shipped_clip_path, train_clip_feature_net
from ..metrics.features import describe_shipped, shipped_path, train_feature_net
from ..models import MODEL_REGISTRY, get_preset, presets_for
from ..runtime.classifier import ARCHITECTURES
from ..train import describe, train_from_options
from .options import DEVICE


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


@click.command()
@click.argument("model", type=click.Choice(MODEL_REGISTRY.names()), metavar="MODEL")
@click.option(
    "--data", "data_name", help="dataset name (see `imsynth datasets`); default digits, or the run's own with --resume"
)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option("--steps", type=int, help="stop after this many optimisation steps")
@click.option("--epochs", type=float, help="stop after this many passes over the train split")
@click.option("--minutes", type=float, help="stop after this much wall time")
@click.option("--resume", is_flag=True, help="continue the run in --out exactly where it stopped")
@click.option(
    "--init",
    "init",
    type=click.Path(file_okay=False),
    help="fine-tune: start from this run's weights and model config (same model; --set may change the rest)",
)
@click.option("--seed", type=int, help="random seed (default 0)")
@DEVICE
@click.option("--image-size", type=int, help="resize images to this square size")
@click.option("--limit", type=int, help="use only the first N train/test images")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a model or train config field, e.g. --set beta=4 --set train.lr=2e-3 (all are applied, "
    "then checked together)",
)
@click.option(
    "--preset",
    help="settings tuned for a budget, e.g. cpu-30min (see `imsynth models`); --config and --set come after",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="a config file (best.json of imsynth tune); its settings come first, --set after",
)
@click.option(
    "--dry-run", is_flag=True, help="check the options, data and model, print the resolved config, do not train"
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(
    model,
    data_name,
    out,
    steps,
    epochs,
    minutes,
    resume,
    init,
    seed,
    device,
    image_size,
    limit,
    assignments,
    preset,
    config_file,
    dry_run,
    quiet,
):
    """Train MODEL on a dataset into a run directory. Ctrl-C (or SIGTERM) finishes the step, writes a checkpoint
    and prints the --resume command (exit 130 / 143); a second one aborts at once.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 30
      imsynth train beta-tcvae --data shapes --out runs/tc --steps 5000 --set beta=6
      imsynth train dcgan --out runs/wgan --set loss=wasserstein --set gp_weight=10 --set d_norm=none --dry-run
      torchrun --nproc_per_node 2 -m imsynth.cli train vae --data digits --out runs/ddp --steps 500
      imsynth train hyperprior --data photos --init runs/hp-gpu --out runs/hp-tuned --minutes 30
      imsynth train dcgan --data fashion-mnist --config tune/best.json --out runs/tuned --minutes 30
      imsynth train vae --data fashion-mnist --preset cpu-30min --out runs/vae-cpu --minutes 30
    """
    if config_file:
        assignments = (*read_config_file(config_file, model), *assignments)
    if preset:
        assignments = (*get_preset(model, preset).settings, *assignments)
    result = train_from_options(
        model,
        out,
        data=data_name,
        steps=steps,
        epochs=epochs,
        minutes=minutes,
        resume=resume,
        init=init,
        seed=seed,
        device=device,
        image_size=image_size,
        limit=limit,
        assignments=assignments,
        quiet=quiet,
        dry_run=dry_run,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps(result) if dry_run else describe(result))


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
