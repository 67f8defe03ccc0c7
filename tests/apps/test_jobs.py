"""Training in a background process (what the studio's Train tab calls)."""

import json
import signal
import time

import pytest

from imsynth.apps.actions.train import TRAIN
from imsynth.apps.jobs import run_status, start_training, train_command
from imsynth.cli.actions import action_command
from imsynth.errors import InputError
from imsynth.runtime import runs

TINY = ("width=8", "latent_dim=4", "train.batch_size=32", "train.log_every=5", "train.sample_every=20")


def _wait(job, predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if not job.running:
            return predicate()
        time.sleep(0.2)
    return False


def test_train_command_is_the_cli_call_with_the_same_values():
    given = {"data": "digits", "steps": 5, "seed": 2, "assignments": ("beta=2", "width=8"), "preset": "cpu-30min"}
    command = train_command("vae", "runs/x", **given)
    assert command[1:4] == ["-m", "imsynth.cli", "train"]
    # the command's own parser reads back what was asked (and --quiet: no progress bar in a log file)
    parsed = action_command(TRAIN).make_context("train", command[4:]).params
    assert TRAIN.bind(parsed) == TRAIN.bind({"model": "vae", "out": "runs/x", "quiet": True, **given})
    resumed = action_command(TRAIN).make_context("train", train_command("vae", "r", resume=True)[4:]).params
    assert TRAIN.bind(resumed)["resume"] is True and TRAIN.bind(parsed)["resume"] is False


@pytest.mark.slow
def test_a_background_run_reports_progress_stops_with_a_checkpoint_and_resumes(tmp_path):
    run = tmp_path / "vae"
    job = start_training("vae", run, data="digits", steps=100000, assignments=TINY)
    # wait for what is asserted below: the grid of step 20 is written after step 20's row is logged
    assert _wait(job, lambda: run_status(run)["step"] >= 20 and run_status(run)["samples"] is not None), job.status()[
        "log"
    ]
    # the run is held while it trains: a second start is refused before any process starts
    with pytest.raises(InputError, match="another training is writing this run"):
        start_training("vae", run, resume=True)
    status = job.status()
    assert status["running"] and status["held_by"] == job.process.pid
    assert status["budget"] == {"steps": 100000} and "loss" in status["last"]
    assert status["samples"] is not None and status["samples"].endswith(".png")
    assert job.stop() == 128 + signal.SIGINT  # Ctrl-C's exit code: the step finished, a checkpoint written
    stopped_at = json.loads((run / runs.STATE / "latest.json").read_text())["step"]
    assert stopped_at >= 20 and runs.locked_by(run) is None
    assert "continue with: imsynth train vae" in job.status()["log"]
    again = start_training("vae", run, resume=True, steps=stopped_at + 10)
    again.process.wait(120)
    assert again.process.returncode == 0, again.status()["log"]
    assert json.loads((run / runs.STATE / "latest.json").read_text())["step"] == stopped_at + 10


def test_bad_options_and_taken_names_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'no-such-data'"):
        start_training("vae", tmp_path / "bad", data="no-such-data", steps=5, wait=60)
    assert not (tmp_path / "bad").exists()
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / runs.CONFIG).write_text("{}")
    with pytest.raises(InputError, match="already holds a run; resume it"):
        start_training("vae", tmp_path / "done", data="digits", steps=5)
