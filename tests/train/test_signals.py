"""Real signals sent to a real ``imsynth train`` process: a complete checkpoint, the resume command, exit 130/143,
and a resumed run equal to an uninterrupted one (deterministic mode, constant learning rate)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from imsynth.runtime import runs
from imsynth.train import train_from_options

SETTINGS = [
    "--set",
    "train.schedule=constant",
    "--set",
    "train.warmup_steps=0",
    "--set",
    "train.deterministic=true",
    "--set",
    "train.batch_size=32",
    "--set",
    "train.log_every=1",
    "--set",
    "train.checkpoint_every=100000",
    "--set",
    "train.sample_every=100000",
    "--set",
    "width=8",
    "--set",
    "latent_dim=4",
]


def start(run: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imsynth.cli",
            "train",
            "vae",
            "--data",
            "digits",
            "--out",
            str(run),
            "--steps",
            "100000",
            "--quiet",
            *SETTINGS,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_step(run: Path, process: subprocess.Popen, step: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        rows = runs.read_metrics(run) if (run / runs.METRICS).exists() else []
        if rows and rows[-1].get("step", 0) >= step:
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"training did not reach step {step}")


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_a_checkpoint_and_the_run_resumes_exactly(tmp_path, signum, code):
    run = tmp_path / "run"
    process = start(run)
    wait_for_step(run, process, 5)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and "finishing this step" in lines[0]
    assert "stopped at step" in lines[-1] and f"--out {run} --resume" in lines[-1], err
    stopped = json.loads((run / "state/latest.json").read_text())["step"]
    assert stopped >= 5 and f"stopped at step {stopped};" in lines[-1]
    assert not list(run.rglob("*.tmp*"))
    # resume to stopped + 3 and compare with an uninterrupted run to the same step
    target = stopped + 3
    train_from_options("vae", run, resume=True, steps=target, quiet=True)
    straight = tmp_path / "straight"
    train_from_options("vae", straight, data="digits", steps=target, quiet=True, assignments=SETTINGS[1::2])
    state_a, meta_a = runs.load_state(run)
    state_b, meta_b = runs.load_state(straight)
    assert meta_a["step"] == meta_b["step"] == target
    for key in state_a:
        if not key.startswith("rng."):
            assert torch.equal(state_a[key], state_b[key]), key


@pytest.mark.slow
def test_a_second_signal_aborts_at_once_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    process = start(run)
    wait_for_step(run, process, 3)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    tensors, meta = runs.load_state(run)  # whatever the timing, a complete checkpoint is there
    assert meta["step"] >= 0 and any(key.startswith("model.") for key in tensors)
    assert not list(run.rglob("*.tmp*"))
