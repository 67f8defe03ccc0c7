"""``tune``: hyperparameter search for any registered model on Optuna, with the engine doing every trial.

A study lives in one file: SQLite (``.db``/``.sqlite``, one process) or Optuna's journal file (any other name;
several processes may share it), so a study interrupted by Ctrl-C or a crash resumes where it stopped: completed
and pruned trials count towards ``--trials``. Trial 0 is the model's defaults (the baseline is always in the
study); the rest are TPE's. Each trial trains for the same budget (steps or minutes) into ``OUT/trial-NNNN``.

The objective, lower is better, follows the model's capabilities: a ``LikelihoodModel`` (every VAE) is scored by
its test negative ELBO (nats per image, 500 test images), any other image model by the in-domain FID of 1,000
samples (the shipped feature network), a text model by its validation NLL bound. The same measure, taken at 1/4,
1/2 and 3/4 of each trial's budget (steps or wall time), feeds the pruner (median or Hyperband). The best configuration is written as ``OUT/best.json``,
which ``imsynth train MODEL --config OUT/best.json`` accepts; with ``seeds`` it is retrained on that many seeds
beside the defaults, and both means and spreads are reported.

Search spaces: each model config's ``search_space`` (documented in ``imsynth tune --help``), or a JSON file of
``{"field": {"low": L, "high": H, "log": true} | {"choices": [...]}}``; fields are the model's config fields or
``train.FIELD``, typed by the config: int fields get integers, float fields floats, the rest choices.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import statistics
import sys
import time
import typing
import warnings
from pathlib import Path

import numpy as np
import optuna
import torch

from ..config import apply_overrides, field_types, read_json_file
from ..data import load_dataset
from ..errors import ConfigError, ImsynthError, InputError, TrainingStopped
from ..image import atomic_path
from ..metrics.features import extract_features, load_feature_net
from ..metrics.generative import frechet_distance
from ..models import LikelihoodModel, TextGenerator, build_model, config_for_dataset, get_entry, load_run
from ..runtime import runs
from ..runtime.classifier import SECOND
from ..runtime.tensors import to_model
from ..train import TrainConfig, train

STUDY_NAME = "imsynth"
PRUNERS = ("median", "hyperband", "none")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def default_space(model_name: str) -> dict:
    """The search space the model declares (its config family's, or its own registration's)."""
    space = get_entry(model_name).search_space
    if not space:
        raise InputError(f"model {model_name} has no default search space; give one with --space FILE")
    return space


def read_space(path: str | Path) -> dict:
    space = read_json_file(path, "search-space file")
    if not isinstance(space, dict) or not space:
        raise InputError(f"{path}: a search space is a JSON object of field -> range")
    return space


def _field_annotation(model_name: str, key: str):
    entry = get_entry(model_name)
    section, _, name = key.rpartition(".")
    cls = TrainConfig if section == "train" else entry.model_class.config_class
    types = field_types(cls)
    if section not in ("", "train") or name not in types:
        valid = sorted(types) + sorted(f"train.{f}" for f in field_types(TrainConfig))
        raise InputError(f"search space: {key!r} is not a field of {model_name}'s config; valid: {', '.join(valid)}")
    return types[name]


def check_space(model_name: str, space: dict) -> dict:
    """Each field's range, checked against the config's types: (kind, spec) with kind int | float | choice."""
    checked = {}
    for key, spec in space.items():
        annotation = _field_annotation(model_name, key)
        base = typing.get_origin(annotation) or annotation
        if not isinstance(spec, dict):
            raise InputError(f"search space: {key}: expected {{low, high}} or {{choices}}, got {spec!r}")
        if "choices" in spec:
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                raise InputError(f"search space: {key}: choices must be a non-empty list")
            checked[key] = ("choice", spec)
            continue
        if base not in (int, float) or not {"low", "high"} <= set(spec):
            raise InputError(f"search space: {key}: give low and high (numeric fields) or choices")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)) or low >= high:
            raise InputError(f"search space: {key}: impossible range low={low!r} high={high!r} (need low < high)")
        if spec.get("log") and low <= 0:
            raise InputError(f"search space: {key}: a log range needs low > 0, got {low}")
        checked[key] = ("int" if base is int else "float", spec)
    # every suggestion must make a valid config: try the range ends now rather than in trial 37
    for corner in ("low", "high"):
        values = {
            key: spec["choices"][0] if kind == "choice" else (int(spec[corner]) if kind == "int" else spec[corner])
            for key, (kind, spec) in checked.items()
        }
        try:
            _configs(model_name, values)
        except ConfigError as error:
            raise InputError(f"search space: the {corner} ends give an invalid config: {error}") from None
    return checked


def _assignments(values: dict) -> list[str]:
    return [f"{key}={json.dumps(value) if isinstance(value, (list, dict)) else value}" for key, value in values.items()]


def _configs(model_name: str, values: dict) -> dict:
    """The configs a trial's values give; a bare key is the model's (``schedule`` is a field of both configs: the
    noise schedule in a space, never the learning-rate schedule, which is ``train.schedule``)."""
    entry = get_entry(model_name)
    owned = {key if "." in key else f"model.{key}": value for key, value in values.items()}
    return apply_overrides(
        {"model": entry.default_config(), "train": entry.default_train_config()}, _assignments(owned)
    )


def open_study(
    study_path: str | Path, model_name: str, data: str, *, seed: int = 0, pruner: str = "median", prune_after: int = 3
):
    """The study in ``study_path`` (created if missing), checked to belong to this model and data."""
    path = Path(study_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".db", ".sqlite", ".sqlite3"):
        storage = f"sqlite:///{path}"
    else:
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if pruner == "median":
        # no verdict before ``prune_after`` trials have finished, nor at a trial's first report (1/4 of its
        # budget): a first run of this study pruned every trial at 1/4 behind the defaults, some of them
        # still warming up their KL term
        chosen = optuna.pruners.MedianPruner(n_startup_trials=prune_after, n_warmup_steps=2)  # reports are 1, 2, 3
    elif pruner == "hyperband":
        chosen = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=3)  # report indices 1..3
    else:
        chosen = optuna.pruners.NopPruner()
    try:
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=storage,
            load_if_exists=True,
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
            pruner=chosen,
        )
    except Exception as error:  # sqlite/journal errors come in many types: corrupt, locked, not a study
        detail = " ".join(str(error).split())  # SQLAlchemy's messages run over several lines
        if "locked" in detail:
            raise InputError(
                f"{path}: the study is locked by another process (SQLite allows one writer; "
                "share a study between processes with a journal file, any name but .db)"
            ) from None
        raise InputError(f"{path}: cannot open the study ({type(error).__name__}: {detail[:120]})") from None
    owner = study.user_attrs.get("model")
    if owner is None:
        study.set_user_attr("model", model_name)
        study.set_user_attr("data", data)
    elif owner != model_name or study.user_attrs.get("data") != data:
        raise InputError(
            f"{path}: the study belongs to model {owner} on {study.user_attrs.get('data')}, not {model_name} on {data}"
        )
    return study


class _Scorer:
    """The objective of a model, by its capabilities: validation NLL bound (text), test negative ELBO
    (likelihood models: every VAE), or in-domain FID of 1,000 samples (the rest)."""

    def __init__(self, model_name: str, dataset) -> None:
        self.dataset = dataset
        probe = build_model(model_name, config_for_dataset(get_entry(model_name).default_config(), dataset))
        self.kind = (
            "text" if isinstance(probe, TextGenerator) else "elbo" if isinstance(probe, LikelihoodModel) else "fid"
        )
        self.name = {"text": "validation nll bound", "elbo": "test -elbo", "fid": "fid"}[self.kind]
        self.second = None
        if self.kind == "fid":
            self.net, _ = load_feature_net(dataset.name)
            self.real = extract_features(self.net, dataset.test_images[:1000])
            try:  # the second shipped network: the seeds' results are reported under both
                second, _ = load_feature_net(dataset.name, architecture=SECOND)
            except ImsynthError:
                pass
            else:
                self.second = (second, extract_features(second, dataset.test_images[:1000]))

    @torch.no_grad()
    def second_fid(self, model) -> float | None:
        if self.second is None:
            return None
        net, real = self.second
        model.eval()
        fake = model.generate(1000, seed=4321, progress=False)
        return frechet_distance(real, extract_features(net, fake)) if torch.isfinite(fake).all() else float("inf")

    @torch.no_grad()
    def __call__(self, model) -> float:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            if self.kind == "text":
                tokens = self.dataset.extra["validation"][:500].long().to(device)
                report = model.text_measures(tokens, importance_samples=1)
                return report.get("rec", report["nll"]) + report.get("kl", 0.0)
            if self.kind == "elbo":
                images = to_model(self.dataset.test_images[:500]).to(device)
                return -float(model.likelihood(images, importance_samples=1)["elbo"])
            fake = model.generate(1000, seed=4321, progress=False)
            if not torch.isfinite(fake).all():
                return float("inf")
            return frechet_distance(self.real, extract_features(self.net, fake))
        finally:
            model.train(was_training)


def _train_once(model_name, dataset, out, values, budget, scorer, *, seed=0, report=None, reports=0):
    """Train one configuration for ``budget``; ``report(value, index)`` is called ``reports`` times on the way:
    at equal shares of the steps, or of the wall time for a minutes budget (index k: the k-th share), so the
    pruner compares every trial at the same points of its budget."""
    configs = _configs(model_name, values)
    train_config = dataclasses.replace(configs["train"], seed=seed, fid_every=0, **budget)
    model = build_model(model_name, config_for_dataset(configs["model"], dataset))
    started, done = time.perf_counter(), [0]

    def callback(step, _logged):
        if report is None or not reports or done[0] >= reports - 1:
            return
        if budget.get("steps"):
            share = step / budget["steps"]
        else:
            share = (time.perf_counter() - started) / (budget["minutes"] * 60)
        if share >= (done[0] + 1) / reports:
            done[0] += 1
            report(scorer(model), done[0])

    train(model_name, dataset, out, model=model, train_config=train_config, quiet=True, callback=callback)
    return scorer(model), model


def _seed_run(model_name, dataset, out: Path, values, budget, scorer, seed):
    """A seed's retraining: a run a previous attempt finished with these settings (recorded in tune.json once it
    is done) is scored as it is, so a study stopped during its seed runs resumes there; anything else there (an
    unfinished run, another best configuration's) is trained again."""
    record = {"values": values, "budget": budget, "seed": seed}
    try:
        done = runs.read_json(out / "tune.json") == json.loads(json.dumps(record))
    except ImsynthError:
        done = False
    if done:
        model, _ = load_run(out, device="cpu")
        return scorer(model), model
    if out.exists():
        shutil.rmtree(out)
    value, model = _train_once(model_name, dataset, out, values, budget, scorer, seed=seed)
    runs.write_json(out / "tune.json", record)
    return value, model


def tune(
    model: str,
    data: str | None = None,
    out: str | Path | None = None,
    study: str | Path | None = None,
    *,
    trials: int = 20,
    steps_per_trial: int | None = None,
    minutes_per_trial: float | None = None,
    space: str | Path | dict | None = None,
    pruner: str = "median",
    reports: int = 4,
    prune_after: int = 3,
    seeds: int = 0,
    seed: int = 0,
    limit: int | None = None,
    show_space: bool = False,
    log=_to_stderr,
) -> dict:
    """Run (or resume) a study of ``trials`` trials in the study file ``study``; write best.json and the pictures
    into ``out``. ``space``: a search space, or the JSON file of one (default: the model's); ``show_space``
    returns the model's default space and does nothing else."""
    if show_space:
        return default_space(model)
    missing = [flag for flag, value in (("--data", data), ("--study", study), ("--out", out)) if not value]
    if missing:
        raise InputError(f"a study needs {', '.join(missing)} (only --show-space runs without them)")
    if pruner not in PRUNERS:
        raise InputError(f"unknown pruner {pruner!r}; valid: {', '.join(PRUNERS)}")
    if (steps_per_trial is None) == (minutes_per_trial is None):
        raise InputError("give one budget per trial: --steps-per-trial or --minutes-per-trial")
    if trials < 1 or (steps_per_trial is not None and steps_per_trial < 1) or seeds < 0:
        raise InputError("--trials and --steps-per-trial must be >= 1, --seeds >= 0")
    if isinstance(space, (str, Path)):
        space = read_space(space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # imsynth prints one line per trial itself
    checked = check_space(model, space if space is not None else default_space(model))
    dataset = load_dataset(data, limit=limit)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    budget = {"steps": steps_per_trial} if steps_per_trial else {"minutes": minutes_per_trial, "steps": None}
    opened = open_study(study, model, data, seed=seed, pruner=pruner, prune_after=prune_after)
    scorer = _Scorer(model, dataset)
    finished = [
        t for t in opened.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    if not opened.trials:
        opened.enqueue_trial({}, user_attrs={"defaults": True})  # trial 0: the model as shipped

    def objective(trial: optuna.Trial) -> float:
        values = {}
        for key, (kind, spec) in ({} if trial.user_attrs.get("defaults") else checked).items():
            if kind == "choice":
                values[key] = trial.suggest_categorical(key, spec["choices"])
            elif kind == "int":
                values[key] = trial.suggest_int(key, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
            else:
                values[key] = trial.suggest_float(key, spec["low"], spec["high"], log=bool(spec.get("log")))
        trial.set_user_attr("values", values)

        def report(value, step):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{scorer.name} {value:.4g} at step {step}")

        try:
            value, _ = _train_once(
                model,
                dataset,
                out / f"trial-{trial.number:04d}",
                values,
                budget,
                scorer,
                report=report,
                reports=reports,
            )
        except ConfigError as error:  # a combination the config refuses: tell TPE it is bad, keep going
            trial.set_user_attr("error", str(error))
            raise optuna.TrialPruned(str(error)) from None
        except TrainingStopped as stopped:  # Ctrl-C / SIGTERM: the study, not the trial's run, is what resumes
            raise TrainingStopped(
                f"stopped in trial {trial.number}; finished trials are kept in {study}: run the same "
                "imsynth tune command again to go on",
                signum=stopped.exit_code - 128,
            ) from None
        log(json.dumps({"trial": trial.number, scorer.name: round(value, 4), "values": values}))
        return value

    remaining = trials - len(finished)
    if remaining > 0:
        opened.optimize(objective, n_trials=remaining, catch=())
    complete = [t for t in opened.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ImsynthError("no trial completed (all were pruned or failed); widen the space or the budget")
    best = min(complete, key=lambda t: t.value)
    summary = {
        "model": model,
        "data": data,
        "metric": scorer.name,
        "best_value": best.value,
        "best_trial": best.number,
        "set": _assignments(best.user_attrs.get("values", {})),
        "trials": {s.name.lower(): sum(t.state == s for t in opened.trials) for s in optuna.trial.TrialState},
        "budget": budget,
    }
    defaults = [t for t in complete if t.user_attrs.get("defaults")]
    if defaults:
        summary["default_value"] = defaults[0].value
    runs.write_json(out / "best.json", summary)
    summary["pictures"] = _pictures(opened, out)
    if seeds:
        summary["seeds"] = {}
        for label, values in (("best", best.user_attrs.get("values", {})), ("defaults", {})):
            scores, seconds = [], []
            for s in range(seeds):
                value, trained = _seed_run(model, dataset, out / f"{label}-seed-{s}", values, budget, scorer, s)
                scores.append(value)
                seconds.append(scorer.second_fid(trained))
            summary["seeds"][label] = {
                "values": scores,
                "mean": statistics.fmean(scores),
                "stdev": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            }
            if None not in seconds:
                summary["seeds"][label]["fid_second_network"] = {"values": seconds, "mean": statistics.fmean(seconds)}
        both = summary["seeds"]
        if all("fid_second_network" in both[k] for k in ("best", "defaults")):
            first_says = both["best"]["mean"] < both["defaults"]["mean"]
            second_says = both["best"]["fid_second_network"]["mean"] < both["defaults"]["fid_second_network"]["mean"]
            summary["networks_agree"] = first_says == second_says
            if not summary["networks_agree"]:
                log("the two feature networks disagree on whether the tuned config beats the defaults")
        runs.write_json(out / "best.json", summary)
    return summary


def _pictures(study, out: Path) -> list[str]:
    """Optuna's optimisation history and parameter importances (matplotlib), where they can be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, draw in (
        ("history.png", optuna.visualization.matplotlib.plot_optimization_history),
        ("importances.png", optuna.visualization.matplotlib.plot_param_importances),
    ):
        try:
            with warnings.catch_warnings():  # "experimental" and few-trials notices: the picture says as much
                warnings.simplefilter("ignore")
                axes = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError):  # importances need >= 2 trials with varied values
            continue
        figure = (axes.flat[0] if isinstance(axes, np.ndarray) else axes).figure
        with atomic_path(out / name) as tmp:
            figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(figure)
        written.append(str(out / name))
    return written
