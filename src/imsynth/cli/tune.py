"""``tune``: hyperparameter search on Optuna (one call into imsynth.apps.tune)."""

from __future__ import annotations

import json

import click

from ..apps.tune import PRUNERS, default_space, read_space
from ..apps.tune import tune as run_tune
from ..errors import InputError
from ..models import MODEL_REGISTRY


@click.command()
@click.argument("model", type=click.Choice(MODEL_REGISTRY.names()), metavar="MODEL")
@click.option("--data", "data_name", help="dataset name (see `imsynth datasets`)")
@click.option("--trials", default=20, show_default=True, type=int, help="trials in the study, counting earlier ones")
@click.option(
    "--study",
    "study_path",
    type=click.Path(dir_okay=False),
    help="study file: NAME.db (SQLite, one process) or any other name (Optuna journal, shareable)",
)
@click.option("--out", "out", type=click.Path(file_okay=False), help="folder for trials, best.json, pictures")
@click.option("--steps-per-trial", type=int, help="each trial's budget in optimisation steps")
@click.option("--minutes-per-trial", type=float, help="each trial's budget in wall time")
@click.option("--space", "space_file", type=click.Path(dir_okay=False), help="search space JSON (default: the model's)")
@click.option("--pruner", type=click.Choice(PRUNERS), default="median", show_default=True)
@click.option(
    "--prune-after",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="median pruner: finished trials before any trial is pruned",
)
@click.option(
    "--seeds",
    default=0,
    show_default=True,
    type=int,
    help="retrain the best config and the defaults on this many seeds; report mean and spread",
)
@click.option("--limit", type=int, help="use only the first N train/test images")
@click.option("--show-space", is_flag=True, help="print the model's default search space and exit")
def tune(
    model,
    data_name,
    trials,
    study_path,
    out,
    steps_per_trial,
    minutes_per_trial,
    space_file,
    pruner,
    prune_after,
    seeds,
    limit,
    show_space,
):
    """Search MODEL's hyperparameters on DATA with Optuna (TPE; median or Hyperband pruning), resumable.

    Trial 0 is the model's defaults. Scored by test -ELBO (VAEs), validation NLL bound (text) or in-domain FID
    (GANs, diffusion); lower is better. Writes OUT/best.json for `imsynth train --config`, history.png and
    importances.png. Ctrl-C stops the study; run the same command again to resume it.
    Optional live view: pip install optuna-dashboard; optuna-dashboard sqlite:///STUDY.db

    \b
    Example:
      imsynth tune vae --data fashion-mnist --trials 30 --steps-per-trial 2000 --study vae.db --out tune/vae
      imsynth tune dcgan --show-space
      imsynth train vae --data fashion-mnist --config tune/vae/best.json --out runs/vae-tuned --minutes 30
    """
    if show_space:
        click.echo(json.dumps(default_space(model), indent=1))
        return
    missing = [flag for flag, value in (("--data", data_name), ("--study", study_path), ("--out", out)) if not value]
    if missing:
        raise InputError(f"a study needs {', '.join(missing)} (only --show-space runs without them)")
    summary = run_tune(
        model,
        data_name,
        out,
        study_path,
        trials=trials,
        steps_per_trial=steps_per_trial,
        minutes_per_trial=minutes_per_trial,
        space=read_space(space_file) if space_file else None,
        pruner=pruner,
        prune_after=prune_after,
        seeds=seeds,
        limit=limit,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(json.dumps(summary))
