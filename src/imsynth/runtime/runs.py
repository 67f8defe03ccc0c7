"""Run directories: config.json, model.safetensors, state/ (resume), metrics.jsonl, samples/, curves.png.

Nothing is ever unpickled. Every file is written to a temporary name and renamed into place; the resume
state is a pair of files named by step plus ``state/latest.json``, written last, that points at the pair.
A process killed while writing a checkpoint leaves ``latest.json`` pointing at the previous good one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, InputError
from ..image import atomic_path

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
STATE = "state"
METRICS = "metrics.jsonl"
TOKENIZER = "tokenizer.json"  # text runs: the vocabulary their token ids index
LOCK = ".lock"  # held by the process training the run; the OS drops it when that process dies


@contextlib.contextmanager
def writer_lock(run: Path):
    """Hold ``run`` for one training process: a second one (another terminal, the studio, a resume started
    twice) gets a one-line error instead of interleaving checkpoints. An advisory ``flock``, so a process that
    is killed cannot leave a stale lock behind."""
    run = Path(run)
    created = not run.exists()
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip()
        handle.close()
        held_by = f" (process {owner})" if owner.isdigit() else ""
        raise InputError(
            f"{run}: another training is writing this run{held_by}; stop it first or choose another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield run
    except BaseException:
        if created and {p.name for p in run.iterdir()} <= {LOCK}:  # refused before writing: leave nothing
            (run / LOCK).unlink()
            run.rmdir()
        raise
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: damaged JSON ({error})") from None


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(contiguous, str(tmp), metadata=metadata)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: damaged safetensors file ({error})") from None


def read_metadata(path: Path, what: str) -> dict[str, str]:
    """The metadata in a safetensors file's header (no tensor is read); ``what`` names the file in the error."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as error:  # safetensors raises its own error types for damaged headers
        raise CheckpointError(f"{path}: damaged {what} ({error})") from None


def load_weights_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load a state dict, turning shape or key mismatches into one clear CheckpointError."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"{source}: weights do not fit the model ({detail})")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{source}: weight {name} has shape {tuple(tensor.shape)}, the model "
                f"expects {tuple(expected[name].shape)}"
            )
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def is_run(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def require_run(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run directory")
    if not is_run(path):
        raise CheckpointError(f"{path}: not a run (no {CONFIG}); train one with `imsynth train`")
    return path


def find_runs(root: str | os.PathLike, *, depth: int = 2) -> list[str]:
    """Runs under ``root`` (folders holding config.json, up to ``depth`` levels down), as paths relative to it."""
    root = Path(root)
    found = []
    for level in range(1, depth + 1):
        for config in sorted(root.glob("/".join(["*"] * level) + "/" + CONFIG)):
            found.append(config.parent.relative_to(root).as_posix())
    return found


def run_under(root: str | os.PathLike, name: str) -> Path:
    """The run ``name`` inside ``root``; a name that leads outside it (``..``, an absolute path, a link out) is
    refused, so a server that takes run names from a browser never reads or writes elsewhere."""
    root = Path(root).resolve()
    if not name or Path(name).is_absolute():
        raise InputError(f"{name!r}: give a run folder inside {root}")
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise InputError(f"{name}: outside the runs folder {root}")
    return path


def locked_by(run: str | os.PathLike) -> int | None:
    """The process id holding ``run`` for training (see ``writer_lock``), or None when no training holds it."""
    path = Path(run) / LOCK
    if not path.is_file():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip()
            return int(owner) if owner.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_state(run: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict, *, keep: int = 2) -> None:
    """Write resume state for ``step`` (tensors, then their SHA-256 in the meta file), then point ``latest.json``
    at it, then prune old states."""
    folder = run / STATE
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"step-{step:09d}"
    write_tensors(folder / f"{stem}.safetensors", tensors)
    write_json(folder / f"{stem}.json", {**meta, "tensors_sha256": file_digest(folder / f"{stem}.safetensors")})
    write_json(folder / "latest.json", {"step": step, "tensors": f"{stem}.safetensors", "meta": f"{stem}.json"})
    stems = sorted(p.stem for p in folder.glob("step-*.json"))
    for old in stems[:-keep]:
        for suffix in (".json", ".safetensors"):
            (folder / f"{old}{suffix}").unlink(missing_ok=True)


def _verified_state(folder: Path, stem: str) -> tuple[dict[str, torch.Tensor], dict]:
    meta = read_json(folder / f"{stem}.json")
    tensors_path = folder / f"{stem}.safetensors"
    if not tensors_path.is_file():
        raise CheckpointError(f"{tensors_path}: missing")
    expected = meta.get("tensors_sha256") if isinstance(meta, dict) else None
    if expected is not None and file_digest(tensors_path) != expected:
        raise CheckpointError(f"{tensors_path}: damaged (its SHA-256 differs from the one written with it)")
    return read_tensors(tensors_path), meta


def load_state(run: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The newest resume state that verifies; a damaged newest one falls back to the one before, saying so."""
    folder = run / STATE
    newest = None
    try:
        pointer = read_json(folder / "latest.json")
        newest = Path(pointer["tensors"]).stem
    except (KeyError, TypeError, CheckpointError):
        pass  # a damaged or missing pointer: the states themselves are still there
    stems = sorted((p.stem for p in folder.glob("step-*.json")), reverse=True)
    if newest is not None:
        stems = [newest] + [stem for stem in stems if stem != newest]
    if not stems:
        raise CheckpointError(f"{folder}: no resume state")
    problems = []
    for stem in stems:
        try:
            state = _verified_state(folder, stem)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if problems:
            print(f"imsynth: {problems[0]}; resuming from {stem} instead", file=sys.stderr, flush=True)
        return state
    raise CheckpointError(problems[0] + " (and no earlier state verifies)")


def append_metrics(run: Path, row: dict) -> None:
    # One short line per append: a crash can lose at most the line being written, never earlier ones.
    with open(run / METRICS, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def read_metrics(run: Path) -> list[dict]:
    path = Path(run) / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return rows


def truncate_metrics(run: Path, step: int) -> None:
    """On resume, drop logged rows after the checkpoint so the curve has no duplicated steps."""
    rows = [row for row in read_metrics(run) if row.get("step", 0) <= step]
    with atomic_path(run / METRICS) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
