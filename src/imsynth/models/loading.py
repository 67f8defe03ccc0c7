"""Rebuilding a trained model from its run directory (config.json + model.safetensors); nothing is unpickled."""

from __future__ import annotations

from pathlib import Path

from ..config import from_dict
from ..data.text import load_tokenizer
from ..errors import CheckpointError, ImsynthError
from ..runtime import runs
from ..runtime.device import select_device
from .base import GenerativeModel, build_model, get_entry


def saved_model_config(config_class, fields: dict, *, where: str):
    """A run's saved model config, read as it was written: fields added since then and absent from it take the
    value they had (``absent_in_older_runs``), not today's default."""
    if isinstance(fields, dict):  # anything else is refused by from_dict, naming the file
        fields = {**config_class.absent_in_older_runs, **fields}
    return from_dict(config_class, fields, where=where)


def load_run(run: str | Path, *, device: str = "cpu") -> tuple[GenerativeModel, dict]:
    """The model of ``run`` on ``device``, in eval mode, and the run's saved config."""
    run = runs.require_run(run)
    saved = runs.read_json(run / runs.CONFIG)
    if not isinstance(saved, dict):
        raise CheckpointError(f"{run}/config.json: damaged (not a JSON object)")
    try:
        entry = get_entry(saved["model"])
        config = saved_model_config(entry.model_class.config_class, saved["model_config"], where=f"{run}/config.json")
        model = build_model(saved["model"], config)
    except KeyError as missing:
        raise CheckpointError(f"{run}/config.json: damaged (no {missing})") from None
    except ImsynthError as error:
        where = f"{run}/config.json"
        raise CheckpointError(str(error) if str(error).startswith(where) else f"{where}: {error}") from None
    runs.load_weights_into(model, runs.read_tensors(run / runs.WEIGHTS), run / runs.WEIGHTS)
    if model.modality == "text":
        model.tokenizer = load_tokenizer(run / runs.TOKENIZER)
    model.to(select_device(device)).eval()
    return model, saved
