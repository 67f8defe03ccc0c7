"""The ``imsynth`` command line. It parses options and calls the public API; it holds no logic.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error or a failure of the
work itself (for example a diverged training run). IMSYNTH_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys

import click

from .errors import ImsynthError


def _fail(message: str, code: int) -> None:
    click.echo(f"imsynth: error: {message}".replace("\n", " "), err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="imsynth")
def cli() -> None:
    """Image synthesis: classical templates, deformation and deep generative models.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 10
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth eval runs/vae
    """


@cli.command()
def datasets() -> None:
    """List every dataset, whether it is available here, its size and where it is.

    \b
    Example:
      imsynth datasets
    """
    from .data import list_datasets

    for row in list_datasets():
        mark = "yes" if row["available"] else "NO "
        click.echo(f"{row['name']:<14} {mark}  {row['size']:<40} {row['where']}")


@cli.command()
def models() -> None:
    """List registered models and their default configs.

    \b
    Example:
      imsynth models
    """
    from .config import to_dict
    from .models import MODEL_REGISTRY

    for name, entry in sorted(MODEL_REGISTRY.items()):
        click.echo(f"{name:<12} {entry.description}")
        shown = {k: v for k, v in to_dict(entry.default_config()).items()
                 if k not in ("channels", "image_size", "num_classes", "dataset_size")}
        click.echo(f"{'':<12} {json.dumps(shown)}")


@cli.command()
@click.argument("model")
@click.option("--data", "data_name", help="dataset name (see `imsynth datasets`); default digits, or the run's own with --resume")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option("--steps", type=int, help="stop after this many optimisation steps")
@click.option("--epochs", type=float, help="stop after this many passes over the train split")
@click.option("--minutes", type=float, help="stop after this much wall time")
@click.option("--resume", is_flag=True, help="continue the run in --out exactly where it stopped")
@click.option("--seed", type=int, help="random seed (default 0)")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps")
@click.option("--image-size", type=int, help="resize images to this square size")
@click.option("--limit", type=int, help="use only the first N train/test images")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="override a model or train config field, e.g. --set beta=4 --set train.lr=2e-3")
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(model, data_name, out, steps, epochs, minutes, resume, seed, device, image_size, limit, assignments, quiet):
    """Train MODEL on a dataset into a run directory.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 30
      imsynth train beta-tcvae --data shapes --out runs/tc --steps 5000 --set beta=6
      torchrun --nproc_per_node 2 -m imsynth.cli train vae --data digits --out runs/ddp --steps 500
    """
    import dataclasses

    from .config import apply_overrides
    from .data import load_dataset
    from .errors import InputError
    from .models import get_entry
    from .train import train as run_training
    from .train.engine import describe

    entry = get_entry(model)
    if resume and assignments:
        raise InputError("--set cannot change a run being resumed; it continues with its own config.json")
    configs = apply_overrides({"model": entry.default_config(), "train": entry.default_train_config()},
                              list(assignments))
    budget = {k: v for k, v in {"steps": steps, "epochs": epochs, "minutes": minutes, "seed": seed}.items() if v is not None}
    train_config = dataclasses.replace(configs["train"], **budget)
    if resume and data_name is None:
        from .train.checkpoint import CONFIG, read_json, require_run

        saved = read_json(require_run(out) / CONFIG)["data"]
        data_name, image_size = saved["name"], image_size or saved["image_size"]
    dataset = load_dataset(data_name or "digits", image_size=image_size, limit=limit)
    result = run_training(model, dataset, out, model_config=configs["model"], train_config=train_config,
                          resume=resume, device=device, quiet=quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(describe(result))


@cli.command()
@click.argument("run", type=click.Path())
@click.option("-n", "count", default=64, show_default=True, type=int, help="number of samples")
@click.option("-o", "out", required=True, type=click.Path(),
              help="grid.png, samples.npz (uint8 NxHxWxC + labels) or DIR/ (one PNG each)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--class", "class_index", type=int, help="class to sample (conditional models)")
@click.option("--device", default="auto", show_default=True)
def sample(run, count, out, seed, class_index, device):
    """Draw samples from a trained run.

    \b
    Example:
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth sample runs/cvae -n 16 --class 3 -o threes.png
      imsynth sample runs/vae -n 1000 -o samples.npz
    """
    from .apps.sampling import write_samples

    path = write_samples(run, out, count=count, seed=seed, class_index=class_index, device=device)
    click.echo(str(path))


@cli.command("eval")
@click.argument("run", type=click.Path())
@click.option("--data", "data_name", help="dataset to compare with (default: the run's own)")
@click.option("--n", "count", default=5000, show_default=True, type=int, help="images for sample-quality metrics")
@click.option("--k", "importance_samples", default=500, show_default=True, type=int,
              help="importance samples per image for the NLL bound")
@click.option("--likelihood-images", default=1000, show_default=True, type=int, help="test images for ELBO/NLL")
@click.option("--feature-net", type=click.Path(), help="feature network weights (default: the shipped one)")
@click.option("--inception", type=click.Path(), help="locally present Inception weights (never downloaded)")
@click.option("--device", default="auto", show_default=True)
def evaluate(run, data_name, count, importance_samples, likelihood_images, feature_net, inception, device):
    """Print one JSON object with every metric that applies to RUN.

    \b
    Example:
      imsynth eval runs/vae --n 5000 --k 500
    """
    from .errors import InputError
    from .evaluate import evaluate_run

    if count < 2 or importance_samples < 1 or likelihood_images < 1:
        raise InputError("--n must be >= 2, --k and --likelihood-images >= 1")
    if inception is not None:
        from .metrics.inception import check_inception

        check_inception(inception)
    report = evaluate_run(run, data=data_name, n=count, importance_samples=importance_samples,
                          likelihood_images=likelihood_images, feature_net=feature_net, device=device)
    if inception is not None:
        from .metrics.inception import inception_fid

        report["inception_fid"] = inception_fid(run, inception, n=count, device=device)
    click.echo(json.dumps(report))


@cli.group()
def features() -> None:
    """In-domain feature networks for FID/KID/precision-recall."""


@features.command("train")
@click.option("--data", "data_name", required=True, help="a labelled dataset")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(), help="weights file (default: the package's shipped location)")
@click.option("--quiet", is_flag=True)
def features_train(data_name, epochs, out, quiet):
    """Train a feature network on a dataset's train split and report test accuracy.

    \b
    Example:
      imsynth features train --data fashion-mnist --epochs 10
    """
    from .data import load_dataset
    from .metrics.features import shipped_path, train_feature_net

    dataset = load_dataset(data_name)
    _, info = train_feature_net(dataset, out or shipped_path(data_name), epochs=epochs, quiet=quiet)
    click.echo(json.dumps(info))


@features.command("list")
def features_list() -> None:
    """Show the shipped feature networks and their test accuracy."""
    from .metrics.features import describe_shipped

    for row in describe_shipped():
        click.echo(json.dumps(row))


@cli.command()
@click.option("--out", default="demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--steps", default=3000, show_default=True, type=int)
@click.option("--quiet", is_flag=True)
def demo(out, steps, quiet):
    """Train a VAE on the bundled digits (about a minute) and write pictures and metrics to --out.

    \b
    Example:
      imsynth demo --out demo && open demo/index.html
    """
    from .apps.demo import run_demo

    index = run_demo(out, steps=steps, quiet=quiet)
    click.echo(f"wrote {index}")


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="imsynth", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except click.ClickException as error:
        _fail(error.format_message(), 2)
    except ImsynthError as error:
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:  # an internal error: one line unless debugging
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _fail(f"internal error: {type(error).__name__}: {error} (set IMSYNTH_DEBUG=1 for a traceback)", 1)


if __name__ == "__main__":
    main()
