"""The dataset a run was trained on, read back from its config (resuming it, previewing its data)."""

from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError
from ..runtime import runs
from .base import ImageDataset, load_dataset
from .text import load_tokenizer


def run_tokenizer(run: str | Path) -> dict:
    """``{"tokenizer": ...}`` for a text run (its token ids mean its words), else ``{}``: keywords for
    ``load_dataset``."""
    path = Path(run) / runs.TOKENIZER
    return {"tokenizer": load_tokenizer(path)} if path.exists() else {}


def run_dataset(run: str | Path, *, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    """The dataset a run was trained on (by its saved name and image size), for resuming it."""
    saved = runs.read_json(runs.require_run(run) / runs.CONFIG)
    try:
        data = saved["data"]
        vocabulary = run_tokenizer(run)
        if vocabulary:  # a text run: its own vocabulary, not one trained anew
            return load_dataset(data["name"], limit=limit, **vocabulary)
        return load_dataset(data["name"], image_size=image_size or data["image_size"], limit=limit)
    except (KeyError, TypeError):
        raise CheckpointError(f"{run}/config.json: damaged (no data section)") from None
