import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch._dynamo.utils import counters

from imsynth.errors import CheckpointError, ConfigError, InputError, TrainingError
from imsynth.models import build_model, config_for_dataset, get_entry, load_run
from imsynth.runtime import runs as ckpt
from imsynth.train import TrainConfig, train
from tests.helpers import tiny_dataset

FAST = dict(
    batch_size=16,
    precision="fp32",
    channels_last=False,
    deterministic=True,
    warmup_steps=2,
    log_every=1,
    sample_every=1000,
    checkpoint_every=4,
    num_samples=4,
)


def launch(command, env, timeout=240):
    """Run a torchrun command; retry once when a worker died by a signal (exitcode -6 was seen twice in ~40
    launches while other tests loaded the machine; root cause not yet found, see the issue note)."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 and "exitcode: -" in done.stderr:
        # the failed attempt may have left checkpoints (the guard writes one at step 0): start afresh
        shutil.rmtree(command[command.index("--out") + 1], ignore_errors=True)
        first_error = done.stderr[-600:]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        done.stderr = f"[first attempt, killed by a signal: ...{first_error}]\n{done.stderr}"
    return done


# two processes on this machine, each running the imsynth command line
TORCHRUN_IMSYNTH = [
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc_per_node=2",
    "-m",
    "imsynth.cli",
]


def small_vae(dataset, **overrides):
    config = get_entry("vae").default_config()
    config = config_for_dataset(config, dataset)
    config.width, config.latent_dim = 8, 4
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on CPU writes C++ and needs g++")
def test_a_compiled_run_trains_as_an_eager_one_and_writes_the_same_checkpoint(tmp_path, monkeypatch):
    data = tiny_dataset()
    with monkeypatch.context() as patched:
        patched.setenv("CXX", "no-such-compiler")
        with pytest.raises(ConfigError, match=r"needs a C\+\+ compiler \(no-such-compiler is not on PATH\)"):
            train("vae", data, tmp_path / "none", train_config=TrainConfig(steps=2, compile=True, **FAST), quiet=True)
    assert not (tmp_path / "none").exists()
    eager = TrainConfig(steps=8, **FAST)
    train("vae", data, tmp_path / "eager", model_config=small_vae(data), train_config=eager, quiet=True)
    torch.compiler.reset()
    counters["stats"].clear()
    compiled = dataclasses.replace(eager, compile=True)
    train("vae", data, tmp_path / "compiled", model_config=small_vae(data), train_config=compiled, quiet=True)
    assert counters["stats"]["unique_graphs"] >= 2  # the encoder and the decoder, at least, ran compiled
    a, b = load_file(tmp_path / "eager/model.safetensors"), load_file(tmp_path / "compiled/model.safetensors")
    assert a.keys() == b.keys()  # no "_orig_mod." prefix: any run or command reads it
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-3, atol=1e-4, msg=name)
    losses = [
        [row["loss"] for row in ckpt.read_metrics(tmp_path / run) if "loss" in row] for run in ("eager", "compiled")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)
    train("vae", data, tmp_path / "compiled", train_config=TrainConfig(steps=12), resume=True, quiet=True)
    assert ckpt.read_metrics(tmp_path / "compiled")[-1]["step"] == 12


def test_training_lowers_the_loss_and_writes_a_complete_run(tmp_path):
    data = tiny_dataset()
    result = train(
        "vae",
        data,
        tmp_path / "run",
        model_config=small_vae(data),
        train_config=TrainConfig(steps=40, lr=3e-3, **{**FAST, "sample_every": 20}),
        quiet=True,
    )
    rows = ckpt.read_metrics(tmp_path / "run")
    assert result.step == 40 and rows[-1]["step"] == 40
    assert sum(r["loss"] for r in rows[-5:]) < sum(r["loss"] for r in rows[:5])
    for name in (
        "config.json",
        "model.safetensors",
        "metrics.jsonl",
        "curves.png",
        "state/latest.json",
        "samples/step-0000020.png",
        "samples/step-0000040.png",
    ):
        assert (tmp_path / "run" / name).is_file(), name
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"] == "vae" and saved["weights"] == "ema" and saved["step"] == 40
    model, _ = load_run(tmp_path / "run")
    assert model.sample(3).shape == (3, 1, 8, 8)
    assert not list((tmp_path / "run").rglob("*.tmp*"))  # every write completed by rename


def test_resume_continues_exactly(tmp_path):
    """A run killed at step 6 (last checkpoint 4) and resumed to 12 ends with the same weights, EMA and
    optimiser state as one uninterrupted run to 12."""
    data = tiny_dataset()
    config = TrainConfig(steps=12, **FAST)
    train("vae", data, tmp_path / "straight", model_config=small_vae(data), train_config=config, quiet=True)

    def interrupt(step, _):
        if step == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # an abort: nothing more is written
        train(
            "vae",
            data,
            tmp_path / "resumed",
            model_config=small_vae(data),
            train_config=config,
            quiet=True,
            callback=interrupt,
        )
    assert json.loads((tmp_path / "resumed/state/latest.json").read_text())["step"] == 4
    train("vae", data, tmp_path / "resumed", train_config=TrainConfig(steps=12), resume=True, quiet=True)
    straight, resumed = (
        load_file(tmp_path / "straight/model.safetensors"),
        load_file(tmp_path / "resumed/model.safetensors"),
    )
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    state_a, _ = ckpt.load_state(tmp_path / "straight")
    state_b, _ = ckpt.load_state(tmp_path / "resumed")
    for name in state_a:
        if not name.startswith("rng."):
            assert torch.equal(state_a[name], state_b[name]), name
    steps = [row["step"] for row in ckpt.read_metrics(tmp_path / "resumed")]
    assert steps == sorted(set(steps)) and steps[-1] == 12


def test_a_crash_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    data = tiny_dataset()
    original = ckpt.write_tensors
    calls = {"state": 0}

    def failing(path, tensors, metadata=None):
        if Path(path).parent.name == "state":
            calls["state"] += 1
            if calls["state"] == 3:  # the guard's step-0 checkpoint, step 4, then step 8 fails
                original(path, {"partial": torch.zeros(1)})  # a half-written file, then the crash
                raise OSError("disk full")
        return original(path, tensors, metadata)

    monkeypatch.setattr(ckpt, "write_tensors", failing)
    with pytest.raises(OSError, match="disk full"):
        train(
            "vae",
            data,
            tmp_path / "run",
            model_config=small_vae(data),
            train_config=TrainConfig(steps=12, **FAST),
            quiet=True,
        )
    monkeypatch.setattr(ckpt, "write_tensors", original)
    assert json.loads((tmp_path / "run/state/latest.json").read_text())["step"] == 4
    result = train("vae", data, tmp_path / "run", train_config=TrainConfig(steps=12), resume=True, quiet=True)
    assert result.step == 12


def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    data = tiny_dataset()
    model = build_model("vae", small_vae(data))
    honest_loss = model.loss

    def poisoned(images, labels=None, *, step=0, noise=None, uniform=None):
        output = honest_loss(images, labels, step=step, noise=noise)
        if step == 5:
            output.loss = output.loss * float("nan")
        return output

    model.loss = poisoned
    with pytest.raises(TrainingError, match=r"non-finite model loss at step 5.*checkpoint \(step 4\)"):
        train(
            "vae",
            data,
            tmp_path / "run",
            model=model,
            train_config=TrainConfig(steps=12, guard=False, **FAST),
            quiet=True,
        )
    assert json.loads((tmp_path / "run/state/latest.json").read_text())["step"] == 4
    good = load_file(tmp_path / "run/model.safetensors")
    assert all(torch.isfinite(t).all() for t in good.values())


def _poison_loss(model, steps_left: dict):
    """Make the loss NaN at step 5 the first ``steps_left['count']`` times it is reached."""
    honest_loss = model.loss

    def poisoned(images, labels=None, *, step=0, noise=None, uniform=None):
        output = honest_loss(images, labels, step=step, noise=noise)
        if step == 5 and steps_left["count"] > 0:
            steps_left["count"] -= 1
            output.loss = output.loss * float("nan")
        return output

    model.loss = poisoned


def test_guard_rolls_back_to_the_last_checkpoint_with_a_lower_learning_rate(tmp_path, capsys):
    data = tiny_dataset()
    model = build_model("vae", small_vae(data))
    _poison_loss(model, {"count": 1})
    config = TrainConfig(steps=12, **{**FAST, "warmup_steps": 0}, schedule="constant")
    result = train("vae", data, tmp_path / "run", model=model, train_config=config, quiet=True)
    assert result.step == 12
    assert "guard: non-finite model loss at step 5; rolled back from step 5 to step 4" in capsys.readouterr().err
    rows = ckpt.read_metrics(tmp_path / "run")
    events = [row for row in rows if row.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["step"] == 4 and events[0]["lr_scale"] == 0.5
    after = [row for row in rows if "lr" in row and row["step"] > 5]
    assert after and all(row["lr"] == pytest.approx(config.lr * 0.5) for row in after)
    _, meta = ckpt.load_state(tmp_path / "run")
    assert meta["rollbacks"] == 1 and meta["lr_scale"] == 0.5  # a resumed run keeps the lowered rate


def test_guard_gives_up_after_its_rollbacks(tmp_path):
    data = tiny_dataset()
    model = build_model("vae", small_vae(data))
    _poison_loss(model, {"count": 100})
    with pytest.raises(TrainingError, match=r"step 5: training stopped after 2 rollback\(s\).*checkpoint \(step 4\)"):
        train(
            "vae",
            data,
            tmp_path / "run",
            model=model,
            quiet=True,
            train_config=TrainConfig(steps=12, guard_rollbacks=2, **FAST),
        )


def test_budgets_in_epochs_and_minutes(tmp_path):
    data = tiny_dataset()  # 64 images / batch 16 = 4 steps per epoch
    by_epochs = train(
        "vae",
        data,
        tmp_path / "e",
        model_config=small_vae(data),
        train_config=TrainConfig(epochs=2, **FAST),
        quiet=True,
    )
    assert by_epochs.step == 8 and by_epochs.stopped_by == "epochs"
    by_time = train(
        "vae",
        data,
        tmp_path / "m",
        model_config=small_vae(data),
        train_config=TrainConfig(minutes=1e-9, **FAST),
        quiet=True,
    )
    assert by_time.stopped_by == "minutes" and by_time.step == 0


def test_refuses_to_overwrite_a_run_and_rejects_bad_batch_sizes(tmp_path):
    data = tiny_dataset()
    train(
        "vae",
        data,
        tmp_path / "run",
        model_config=small_vae(data),
        train_config=TrainConfig(steps=2, **FAST),
        quiet=True,
    )
    with pytest.raises(InputError, match="already holds a run; pass --resume"):
        train(
            "vae",
            data,
            tmp_path / "run",
            model_config=small_vae(data),
            train_config=TrainConfig(steps=2, **FAST),
            quiet=True,
        )
    with pytest.raises(InputError, match="larger than the 64 training images"):
        train(
            "vae",
            data,
            tmp_path / "other",
            model_config=small_vae(data),
            train_config=TrainConfig(steps=2, **{**FAST, "batch_size": 128}),
            quiet=True,
        )
    with pytest.raises(InputError, match="holds model 'vae', not 'cvae'"):
        train("cvae", data, tmp_path / "run", resume=True, quiet=True)


def test_a_run_being_trained_cannot_be_trained_twice(tmp_path):
    """Two trainings of one run folder (a second terminal, the studio, a resume started twice) would interleave
    checkpoints: the second is refused in one line while the first holds the run, and a refused new run leaves
    no folder behind."""
    data = tiny_dataset()
    kwargs = dict(model_config=small_vae(data), train_config=TrainConfig(steps=2, **FAST), quiet=True)
    train("vae", data, tmp_path / "run", **kwargs)
    with ckpt.writer_lock(tmp_path / "run"):  # what a training in another process holds
        with pytest.raises(InputError, match=rf"run: another training is writing this run \(process {os.getpid()}\)"):
            train("vae", data, tmp_path / "run", resume=True, quiet=True, train_config=TrainConfig(steps=4, **FAST))
    train("vae", data, tmp_path / "run", resume=True, quiet=True, train_config=TrainConfig(steps=4, **FAST))
    assert json.loads((tmp_path / "run" / ckpt.STATE / "latest.json").read_text())["step"] == 4
    with pytest.raises(InputError, match="larger than the 64 training images"):
        train(
            "vae",
            data,
            tmp_path / "new",
            model_config=small_vae(data),
            quiet=True,
            train_config=TrainConfig(steps=2, **{**FAST, "batch_size": 128}),
        )
    assert not (tmp_path / "new").exists()


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    """Checkpoints carry the SHA-256 of their tensors: a flipped byte in the newest one is caught on load, the one
    before it is used (with a message), and the resumed run still ends equal to an uninterrupted one."""
    data = tiny_dataset()
    config = TrainConfig(steps=12, **FAST)
    train("vae", data, tmp_path / "straight", model_config=small_vae(data), train_config=config, quiet=True)

    def interrupt(step, _):
        if step == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # killed after the checkpoint at step 8
        train(
            "vae",
            data,
            tmp_path / "run",
            model_config=small_vae(data),
            train_config=config,
            quiet=True,
            callback=interrupt,
        )
    newest = tmp_path / "run/state/step-000000008.safetensors"
    damaged = bytearray(newest.read_bytes())
    damaged[-3] ^= 0xFF  # inside the tensor data: safetensors itself would load it
    newest.write_bytes(bytes(damaged))
    _, meta = ckpt.load_state(tmp_path / "run")
    assert meta["step"] == 4
    assert "step-000000008.safetensors: damaged (its SHA-256 differs" in capsys.readouterr().err
    train("vae", data, tmp_path / "run", train_config=TrainConfig(steps=12), resume=True, quiet=True)
    straight, resumed = (
        load_file(tmp_path / "straight/model.safetensors"),
        load_file(tmp_path / "run/model.safetensors"),
    )
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)
    for path in (tmp_path / "run/state").glob("step-*.safetensors"):
        flipped = bytearray(path.read_bytes())
        flipped[-3] ^= 0xFF
        path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="and no earlier state verifies"):
        ckpt.load_state(tmp_path / "run")


def test_damaged_or_mismatched_checkpoints_are_clear_errors(tmp_path):
    data = tiny_dataset()
    train(
        "vae",
        data,
        tmp_path / "run",
        model_config=small_vae(data),
        train_config=TrainConfig(steps=2, **FAST),
        quiet=True,
    )
    with pytest.raises(CheckpointError, match="not a run"):
        load_run(tmp_path)
    config = json.loads((tmp_path / "run/config.json").read_text())
    config["model_config"]["width"] = 16
    (tmp_path / "run/config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="has shape .* the model expects"):
        load_run(tmp_path / "run")
    (tmp_path / "run/model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="damaged safetensors"):
        load_run(tmp_path / "run")


# Two torchrun launches at once can race for the same free port (each agent picks one, then binds it later):
# keep the multi-process tests on one pytest-xdist worker, one after the other (make test uses --dist loadgroup).
@pytest.mark.xdist_group("torchrun")
def test_two_process_data_parallel_matches_one_process_on_the_global_batch(tmp_path):
    """torchrun with 2 CPU processes (gloo), 8 images each, against one process with the batch of 16."""
    args = [
        "train",
        "vae",
        "--data",
        "digits",
        "--limit",
        "64",
        "--steps",
        "6",
        "--quiet",
        "--device",
        "cpu",
        "--set",
        "train.batch_size=16",
        "--set",
        "precision=fp32",
        "--set",
        "channels_last=false",
        "--set",
        "width=8",
        "--set",
        "latent_dim=4",
        "--set",
        "checkpoint_every=3",
        "--set",
        "sample_every=100",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        *TORCHRUN_IMSYNTH,
        *args,
        "--out",
        str(tmp_path / "ddp"),
    ]
    done = launch(command, env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    single = subprocess.run(
        [sys.executable, "-m", "imsynth.cli", *args, "--out", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert json.loads((tmp_path / "ddp/config.json").read_text())["world_size"] == 2
    parallel, serial = load_file(tmp_path / "ddp/model.safetensors"), load_file(tmp_path / "one/model.safetensors")
    for name in serial:
        assert torch.allclose(parallel[name], serial[name], atol=1e-5, rtol=1e-4), name
    earlier = load_file(tmp_path / "ddp/state/step-000000003.safetensors")
    assert any(
        not torch.equal(earlier[f"model.{n}"], parallel_raw)
        for n, parallel_raw in ((n, ckpt.load_state(tmp_path / "ddp")[0][f"model.{n}"]) for n in serial)
    )  # training moved


def test_learning_rate_warms_up_then_follows_a_cosine_to_the_floor():
    from imsynth.train.step import learning_rate_factor

    config = TrainConfig(warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate_factor(config, 0, 0.0) == pytest.approx(0.1)
    assert learning_rate_factor(config, 9, 0.0) == pytest.approx(1.0)
    assert learning_rate_factor(config, 50, 0.5) == pytest.approx(0.55)
    assert learning_rate_factor(config, 100, 1.0) == pytest.approx(0.1)
    assert learning_rate_factor(TrainConfig(schedule="constant", warmup_steps=0), 100, 0.9) == 1.0


@pytest.mark.xdist_group("torchrun")
def test_two_processes_stop_together_on_a_time_budget(tmp_path):
    """Ranks must agree on when a --minutes budget ends; otherwise one waits forever in all-reduce."""
    command = [
        *TORCHRUN_IMSYNTH,
        "train",
        "vae",
        "--data",
        "digits",
        "--limit",
        "64",
        "--minutes",
        "0.05",
        "--quiet",
        "--device",
        "cpu",
        "--set",
        "train.batch_size=16",
        "--set",
        "width=8",
        "--set",
        "log_every=3",
        "--out",
        str(tmp_path / "ddp"),
    ]
    done = launch(command, {**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["stopped_by"] == "minutes" and summary["step"] > 0
