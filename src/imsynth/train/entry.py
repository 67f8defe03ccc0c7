"""``train``: build a model from the table and typed configs (or resume one), check the data fits, and run the
engine; ``train_from_options``: the same from the command line's words (the ``train`` action)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ..config import apply_overrides, from_dict, read_config_file, to_dict
from ..data import REGISTRY as DATASETS
from ..data import ImageDataset, load_dataset, run_dataset, run_tokenizer
from ..errors import ConfigError, InputError, TrainingStopped
from ..models import GenerativeModel, build_model, config_for_dataset, get_entry, get_preset
from ..models.loading import saved_model_config
from ..runtime import runs as ckpt
from ..runtime.device import select_device
from ..runtime.train_config import TrainConfig
from . import distributed
from .engine import Trainer
from .fastconv import use_matmul_for_small_convolutions
from .step import TrainResult

BUDGETS = ("steps", "epochs", "minutes")  # the ways a run's length is given, as TrainConfig fields


def train(
    model_name: str,
    dataset: ImageDataset | None,
    out: str | Path,
    *,
    model_config=None,
    train_config: TrainConfig | None = None,
    resume: bool = False,
    device: str = "auto",
    quiet: bool = False,
    callback: Callable[[int, dict], None] | None = None,
    model: GenerativeModel | None = None,
    init: str | Path | None = None,
) -> TrainResult:
    """Train ``model_name`` on ``dataset`` into the run directory ``out``.

    With ``resume=True`` the run's own config is used (budgets from ``train_config`` may extend it) and
    training continues exactly from the last complete checkpoint; ``dataset`` None then means the run's own.
    ``model`` may supply a pre-built model (for custom networks); its config must match ``model_name``'s config
    class. SIGINT or SIGTERM finishes the current step, writes a complete checkpoint and raises
    ``TrainingStopped`` (exit code 130 / 143) saying how to resume. ``init`` names a run whose weights the new
    run starts from (fine-tuning; ``model_config`` must describe the same networks).
    """
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun rank 0 holds the run for every process
    with ckpt.writer_lock(Path(out)) if main else contextlib.nullcontext():
        return _train(
            model_name, dataset, out, model_config, train_config, resume, device, quiet, callback, model, init
        )


def _train(model_name, dataset, out, model_config, train_config, resume, device, quiet, callback, model, init):
    run = Path(out)
    if init is not None and resume:
        raise InputError("--init starts a new run from another run's weights; --resume continues this one: pick one")
    entry = get_entry(model_name)
    train_config = train_config or entry.default_train_config()
    if dataset is None:
        if not resume:
            raise InputError("say which dataset to train on (--data NAME)")
        dataset = run_dataset(run)
    if entry.data != dataset.kind:
        offered = ", ".join(spec.shown_name for spec in DATASETS if spec.kind == entry.data)
        raise InputError(f"model {model_name} trains on {entry.data} ({offered}); {dataset.name} holds {dataset.kind}")
    if resume:
        saved = ckpt.read_json(ckpt.require_run(run) / ckpt.CONFIG)
        if saved.get("model") != model_name:
            raise InputError(f"{run}: run holds model {saved.get('model')!r}, not {model_name!r}")
        if (saved["data"]["name"], saved["data"]["train_size"]) != (dataset.name, len(dataset.train_images)):
            raise InputError(
                f"{run}: the run was trained on {saved['data']['name']} ({saved['data']['train_size']} "
                f"images), not {dataset.name} ({len(dataset.train_images)}); resume with the same --data"
            )
        budgets = {k: getattr(train_config, k) for k in BUDGETS}
        train_config = dataclasses.replace(
            from_dict(TrainConfig, saved["train"], where=f"{run}/config.json train"),
            **{k: v for k, v in budgets.items() if v is not None},
        )
        model_config = saved_model_config(
            entry.model_class.config_class, saved["model_config"], where=f"{run}/config.json"
        )
    elif ckpt.is_run(run) and (run / ckpt.STATE).exists():
        raise InputError(f"{run}: already holds a run; pass --resume to continue it or choose another --out")
    if train_config.steps is None and train_config.epochs is None and train_config.minutes is None:
        train_config = dataclasses.replace(train_config, steps=2000)
    torch_device = select_device(device)
    group = distributed.setup(torch_device.type)
    if group.distributed and torch_device.type == "cuda":
        if group.local_rank >= torch.cuda.device_count():
            distributed.teardown(group)
            raise ConfigError(
                f"process {group.local_rank} has no GPU (this machine has {torch.cuda.device_count()}): "
                "start at most one process per GPU, or pass --device cpu"
            )
        torch_device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(torch_device)
    if train_config.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(train_config.seed)
    if model is None:
        config = model_config if model_config is not None else entry.default_config()
        model = build_model(model_name, config_for_dataset(config, dataset))
    model.registered_name = model_name
    if init is not None:
        init_run = ckpt.require_run(init)
        saved = ckpt.read_json(init_run / ckpt.CONFIG)
        tensors = ckpt.read_tensors(init_run / ckpt.WEIGHTS)
        model.start_from(saved.get("model"), tensors, init_run / ckpt.WEIGHTS, saved.get("model_config") or {})
    model.to(torch_device)
    if train_config.channels_last:
        model.to(memory_format=torch.channels_last)
    if train_config.matmul_small_convs and torch_device.type == "cpu":
        use_matmul_for_small_convolutions(model)
    if train_config.compile:
        compiler = os.environ.get("CXX", "g++")
        if torch_device.type == "cpu" and shutil.which(compiler) is None:
            raise ConfigError(f"train.compile on CPU needs a C++ compiler ({compiler} is not on PATH): install g++")
        for network in model.children():
            network.compile()  # in place: the state dict keeps its keys, unlike torch.compile(module)
    distributed.broadcast_parameters(model, group)
    run.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(
        model=model,
        model_name=model_name,
        dataset=dataset,
        run=run,
        config=train_config,
        device=torch_device,
        group=group,
        quiet=quiet,
        callback=callback,
    )
    if resume:
        trainer.load_state()
        if group.is_main:
            ckpt.truncate_metrics(run, trainer.step)
    elif group.is_main:
        (run / ckpt.METRICS).unlink(missing_ok=True)
        trainer.write_config()
    try:
        result = trainer.run_loop()
        # Every rank waits here until rank 0 has written its last files: a rank leaving early can take the
        # rendezvous store with it while the others still use it.
        distributed.barrier(group)
    finally:
        distributed.teardown(group)
    if result.signal is not None:
        raise TrainingStopped(
            f"{result.stopped_by}: stopped at step {result.step}; checkpoint written to "
            f"{run / ckpt.STATE}; continue with: imsynth train {model_name} --out {run} --resume",
            signum=result.signal,
            result=result,
        )
    return result


def train_from_options(
    model: str,
    out: str | Path,
    *,
    data: str | None = None,
    steps: int | None = None,
    epochs: float | None = None,
    minutes: float | None = None,
    resume: bool = False,
    init: str | Path | None = None,
    seed: int | None = None,
    device: str = "auto",
    image_size: int | None = None,
    limit: int | None = None,
    assignments: list[str] | tuple[str, ...] = (),
    preset: str | None = None,
    config: str | Path | None = None,
    dry_run: bool = False,
    quiet: bool = False,
) -> TrainResult | dict:
    """``imsynth train`` as one call (the ``train`` action): defaults of ``model`` (or of the run ``init`` starts
    from, with the settings declared for a start from its family), then a ``preset``'s settings, a
    ``config`` file's and ``key=value`` ``assignments`` (applied together in that order, validated once), budgets,
    and the dataset by name (the run's own when resuming without ``data``).
    ``dry_run`` checks everything, builds the model and returns the resolved configs without training."""
    layers = (
        get_preset(model, preset).settings if preset else (),
        read_config_file(config, model) if config else (),
        tuple(assignments),
        tuple(
            f"train.{b}={v}" for b, v in (("steps", steps), ("epochs", epochs), ("minutes", minutes)) if v is not None
        ),
    )
    assignments = tuple(setting for layer in latest_budget_only(layers)[:-1] for setting in layer)
    entry = get_entry(model)
    if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0 and (Path(out) / ckpt.STATE / "latest.json").exists():
        # torchrun --max-restarts restarted the workers after one failed: continue from the last complete
        # checkpoint with the run's own config (the --set of the first attempt is in it), no person needed
        resume, assignments, init = True, (), None
    if resume and assignments:
        raise InputError("--set cannot change a run being resumed; it continues with its own config.json")
    base = entry.default_config()
    tokenizer = {}
    if init is not None:  # the networks of the run started from; --set may still change the rest
        base, settings = _init_config(entry, init)
        assignments = (*settings, *assignments)
        tokenizer = run_tokenizer(init)  # a text run's ids mean its words: the data is read with its vocabulary
    configs = apply_overrides({"model": base, "train": entry.default_train_config()}, list(assignments))
    budget = {
        k: v for k, v in {"steps": steps, "epochs": epochs, "minutes": minutes, "seed": seed}.items() if v is not None
    }
    train_config = dataclasses.replace(configs["train"], **budget)
    if resume and data is None:
        dataset = run_dataset(out, image_size=image_size, limit=limit)
    else:
        dataset = load_dataset(data or "digits", image_size=image_size, limit=limit, **tokenizer)
    if dry_run:
        built = build_model(model, config_for_dataset(configs["model"], dataset))
        return {
            "model": model,
            "model_config": to_dict(built.config),
            "train": to_dict(train_config),
            "data": {"name": dataset.name, "train_size": len(dataset.train_images)},
            "parameters": sum(p.numel() for p in built.parameters()),
        }
    return train(
        model,
        dataset,
        out,
        model_config=configs["model"],
        train_config=train_config,
        resume=resume,
        device=device,
        quiet=quiet,
        init=init,
    )


def latest_budget_only(layers: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """``key=value`` layers, later ones winning, with the budget settings of every layer before the last one that
    gives a budget dropped: a budget replaces an earlier one of any kind (--minutes 2 on a preset of 11,000 steps
    stops at 2 minutes) rather than racing it, which is what keeping both would do (the run stops at the first)."""
    budget_keys = {f"train.{b}" for b in BUDGETS}

    def gives_budget(layer):
        return any(setting.split("=")[0] in budget_keys for setting in layer)

    last = max((i for i, layer in enumerate(layers) if gives_budget(layer)), default=-1)
    return tuple(
        layer if i >= last else tuple(s for s in layer if s.split("=")[0] not in budget_keys)
        for i, layer in enumerate(layers)
    )


def _init_config(entry, init) -> tuple[object, tuple[str, ...]]:
    """The model config of a run started from ``init``, and the settings such a start trains with: that run's
    own config (the same family), or, from a family it declares it ``starts_from``, this family's defaults with
    every field the other run shares and its family did not set for itself (a language model's widths, not its
    ``latent_dim=0``), and the settings declared with it."""
    saved = ckpt.read_json(ckpt.require_run(init) / ckpt.CONFIG)
    family, where = saved.get("model"), f"{init}/config.json"
    config_class = entry.model_class.config_class
    if family == entry.name:
        return saved_model_config(config_class, saved["model_config"], where=where), ()
    if family not in entry.model_class.starts_from:
        ways = ", ".join(sorted({entry.name, *entry.model_class.starts_from}))
        raise InputError(f"--init {init}: that run holds model {family!r}; a {entry.name} run starts from: {ways}")
    own = to_dict(entry.default_config())
    other = get_entry(family).defaults
    shared = {key: value for key, value in saved["model_config"].items() if key in own and key not in other}
    return from_dict(config_class, {**own, **shared}, where=where), entry.model_class.starts_from[family]
