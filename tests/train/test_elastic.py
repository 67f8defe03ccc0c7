"""Training that survives a lost worker and spans machines, on torchrun itself: a worker SIGKILLed mid-run is
restarted by ``torchrun --max-restarts`` and the run continues from its last complete checkpoint with no person;
two nodes (one process each, c10d rendezvous over the loopback interface) train like one process on the global
batch."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from imsynth.runtime import runs
from tests.train.test_engine import TORCHRUN_IMSYNTH

ARGS = ["train", "vae", "--data", "digits", "--limit", "256", "--quiet", "--device", "cpu"]
ARGS += ["--set", "train.batch_size=16", "--set", "precision=fp32", "--set", "channels_last=false"]
ARGS += ["--set", "width=8", "--set", "latent_dim=4", "--set", "sample_every=100000", "--set", "deterministic=true"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_a_killed_worker_is_restarted_and_the_run_finishes(tmp_path):
    steps = ["--steps", "400", "--set", "checkpoint_every=20"]
    reference = subprocess.run(
        [*TORCHRUN_IMSYNTH, *ARGS, *steps, "--out", str(tmp_path / "clean")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr[-2000:]
    command = [*TORCHRUN_IMSYNTH[:4], "--max-restarts=2", *TORCHRUN_IMSYNTH[4:], *ARGS, *steps]
    agent = subprocess.Popen([*command, "--out", str(tmp_path / "run")], env=ENV, stderr=subprocess.PIPE, text=True)
    pointer = tmp_path / "run" / "state" / "latest.json"
    deadline = time.time() + 300
    while time.time() < deadline and not (pointer.exists() and runs.read_json(pointer)["step"] >= 40):
        time.sleep(0.2)
    assert pointer.exists(), "no checkpoint appeared"
    killed_at = runs.read_json(pointer)["step"]
    workers = [pid for pid in children(agent.pid) if b"imsynth.cli" in open(f"/proc/{pid}/cmdline", "rb").read()]
    assert workers, "no worker processes found"
    os.kill(workers[-1], signal.SIGKILL)
    _, err = agent.communicate(timeout=600)
    assert agent.returncode == 0, err[-3000:]
    assert killed_at < 400 and runs.read_json(pointer)["step"] == 400
    a, b = load_file(tmp_path / "clean" / "model.safetensors"), load_file(tmp_path / "run" / "model.safetensors")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5, rtol=1e-4), name


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_two_nodes_over_loopback_train_like_one_process(tmp_path):
    steps = ["--steps", "6", "--set", "checkpoint_every=3"]
    port = free_port()
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                "--nproc_per_node=1",
                "--rdzv-backend=c10d",
                f"--rdzv-endpoint=127.0.0.1:{port}",
                "--rdzv-id=imsynth-test",
                "-m",
                "imsynth.cli",
                *ARGS,
                *steps,
                "--out",
                str(tmp_path / "two-nodes"),
            ],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-3000:]
    single = subprocess.run(
        [sys.executable, "-m", "imsynth.cli", *ARGS, *steps, "--out", str(tmp_path / "one")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert runs.read_json(tmp_path / "two-nodes" / "config.json")["world_size"] == 2
    a, b = load_file(tmp_path / "two-nodes" / "model.safetensors"), load_file(tmp_path / "one" / "model.safetensors")
    for name in b:
        assert torch.allclose(a[name], b[name], atol=1e-5, rtol=1e-4), name
