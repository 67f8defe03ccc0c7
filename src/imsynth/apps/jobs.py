"""Training in a background process, for front ends that must stay responsive (the studio).

A job is ``imsynth train`` run as a child process: the same command a user types, so a run started here is
the run the CLI would make, and stopping it (SIGINT) makes the engine finish its step and write a complete
checkpoint, exactly as Ctrl-C does. Progress is read back from the run folder (metrics.jsonl, samples/,
curves.png), never from the child's memory, so a job survives the front end being restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImsynthError, InputError
from ..runtime import runs
from .actions.train import TRAIN


@dataclass
class TrainingJob:
    """One ``imsynth train`` child process writing ``run``; its output goes to ``RUN.log`` beside the run."""

    run: Path
    command: list[str]
    process: subprocess.Popen

    @property
    def log(self) -> Path:
        return self.run.with_name(self.run.name + ".log")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 120.0) -> int | None:
        """Ask the run to stop as Ctrl-C would (the step is finished and a checkpoint written); wait for it."""
        if self.running:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.process.returncode

    def status(self) -> dict:
        """What a progress view shows: the last logged row, the budget, the latest sample grid, the log's tail."""
        return run_status(self.run) | {
            "running": self.running,
            "exit_code": self.process.poll(),
            "log": _tail(self.log),
        }


def train_command(model: str, out: str | os.PathLike, *, resume: bool = False, **options) -> list[str]:
    """The ``imsynth train`` command line for ``options`` (the train action's parameters, by name), made from its
    row of the action table, so a background training takes exactly what the command takes."""
    values = {"model": model, "out": str(out), "resume": resume, "quiet": True, **options}
    return [sys.executable, "-m", "imsynth.cli", *TRAIN.command_line(values)]


def start_training(
    model: str, out: str | os.PathLike, *, resume: bool = False, wait: float = 0.0, **options
) -> TrainingJob:
    """Start ``imsynth train`` in the background. A run that a training already holds is refused here, in one
    line, before any process starts; ``wait`` seconds are spent watching for an early exit (a bad option), whose
    one-line error is raised as an ``InputError``."""
    run = Path(out)
    owner = runs.locked_by(run)
    if owner is not None:
        held_by = f" (process {owner})" if owner > 0 else ""
        raise InputError(f"{run}: another training is writing this run{held_by}; stop it first")
    if not resume and runs.is_run(run):
        raise InputError(f"{run}: already holds a run; resume it, or choose another name")
    command = train_command(model, run, resume=resume, **options)
    run.parent.mkdir(parents=True, exist_ok=True)
    log = run.with_name(run.name + ".log")
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    job = TrainingJob(run, command, process)
    deadline = time.time() + wait
    while time.time() < deadline and job.running:
        time.sleep(0.1)
    if not job.running and job.process.returncode == 2:
        said = _tail(log).strip().splitlines() or [f"imsynth train exited with code 2; see {log}"]
        raise InputError(said[-1].removeprefix("imsynth: error: "))
    return job


def stop_holder(run: str | os.PathLike, timeout: float = 120.0) -> bool:
    """Stop, as Ctrl-C would, the ``imsynth train`` process that holds ``run`` when no job here tracks it (a
    studio killed and started again: its trainings ran on, detached). Only a process whose command line trains
    this run is signalled. True when one was stopped within ``timeout``."""
    run = Path(run)
    owner = runs.locked_by(run)
    if owner is None or owner <= 0:
        return False
    try:
        command = Path(f"/proc/{owner}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # not Linux, or gone: nothing this can safely signal
    words = [word.decode(errors="replace") for word in command]
    if "train" not in words or not any(Path(word).resolve() == run.resolve() for word in words if word):
        return False
    os.kill(owner, signal.SIGINT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if runs.locked_by(run) is None:
            return True
        time.sleep(0.2)
    return False


def run_status(run: str | os.PathLike) -> dict:
    """Step, budget and the last logged values of a run (from its files), its newest sample grid and curves."""
    run = Path(run)
    rows = runs.read_metrics(run)
    logged = [row for row in rows if "event" not in row]
    budget = {}
    if runs.is_run(run):
        try:
            train = runs.read_json(run / runs.CONFIG).get("train", {})
        except ImsynthError:  # damaged: the status shows no budget rather than failing the page
            train = {}
        budget = {key: train[key] for key in ("steps", "epochs", "minutes") if train.get(key) is not None}
    samples = sorted((run / "samples").glob("step-*.png"), key=lambda path: path.stat().st_mtime)
    curves = run / "curves.png"
    return {
        "run": str(run),
        "step": logged[-1]["step"] if logged else 0,
        "last": logged[-1] if logged else {},
        "events": [row for row in rows if "event" in row],
        "budget": budget,
        "samples": str(samples[-1]) if samples else None,
        "curves": str(curves) if curves.is_file() else None,
        "held_by": runs.locked_by(run),
    }


def _tail(path: Path, size: int = 4000) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace").replace("\r", "\n")
