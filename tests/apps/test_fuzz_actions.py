"""Fuzzing over the whole action table (Hypothesis): every action, its parameters drawn inside and outside their
declared ranges and choices, its inputs drawn from real and damaged files (truncated images, 16-bit images, a PNG
that declares 100,000 x 100,000 pixels, empty folders, damaged runs and streams). Whatever is drawn, the command
exits 0 or 2 (never 1, never a traceback), a failed command leaves no output and no temporary file, and a value
the table refuses is refused by the CLI with the table's own message, the one the studio shows (both go through
``Action.bind``).

The slice here is fixed (``derandomize``) and small; ``IMSYNTH_FUZZ_EXAMPLES=N`` raises the examples per action and
``IMSYNTH_FUZZ_LOG=FILE`` appends one JSON line per case (benchmarks/fuzz_actions.py runs the long version and
counts them)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imsynth.apps.actions import ACTIONS
from imsynth.apps.compress import load_codec
from imsynth.errors import InputError
from imsynth.image import save_image
from tests.helpers import huge_png
from tests.test_fuzz_cli import file_bytes, json_values, run, write_file

EXAMPLES = int(os.environ.get("IMSYNTH_FUZZ_EXAMPLES", "12"))
LOG = os.environ.get("IMSYNTH_FUZZ_LOG")
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    max_examples=EXAMPLES,
)
# parameters whose size sets the work: drawn small when valid, so that a case takes seconds
COSTLY = {"count", "n", "images", "iterations", "likelihood_images", "importance_samples", "steps", "frames", "rows",
          "train_images", "test_images", "real", "generated", "samples", "batch_size", "components", "start_steps",
          "limit", "levels", "epochs"}  # fmt: skip


images = st.one_of(
    file_bytes,
    st.just("sixteen"),
    st.just(huge_png()),
    st.just("empty-folder"),
    st.just("folder"),
    st.just("missing"),
)


def write_input(path: Path, content) -> Path:
    """``content`` from ``images`` written at ``path``; the path to give (a folder for the folder cases)."""
    if content == "sixteen":
        save_image(path, np.random.default_rng(1).random((12, 10)), bit_depth=16)
    elif content == "empty-folder":
        path = path.with_suffix("")
        path.mkdir(exist_ok=True)
    elif content == "folder":
        path = path.with_suffix("")
        path.mkdir(exist_ok=True)
        save_image(path / "a.png", np.random.default_rng(2).random((8, 8)))
        (path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    elif content == "missing":
        return path.with_name("missing.png")
    else:
        write_file(path, content)
    return path


def write_clip(path: Path, kind: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    if kind == "gif":
        frames = [Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)) for _ in range(int(rng.integers(1, 9)))]
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    elif kind == "cut":
        write_clip(path, "gif", seed)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(rng.bytes(int(rng.integers(0, 200))))
    return path


def number(param, draw, valid: bool) -> str:
    """Text for a numeric parameter: inside its range (small where it sets the work) or, unless ``valid``,
    outside it."""
    low = param.low if param.low is not None else (1 if param.name in COSTLY else 0)
    high = param.high if param.high is not None else low + (3 if param.name in COSTLY else 10)
    high = min(high, low + 3) if param.name in COSTLY else high
    inside = st.integers(int(np.ceil(low)), int(np.floor(high))) if param.type is int else st.floats(low, high)
    outside = st.sampled_from(
        [str(low - 1), str(high + 1) if param.high is not None else "-7", "x", "nan", "inf", "", "2.5", "1e400"]
    )
    return draw(inside.map(str) if valid else st.one_of(inside.map(str), outside))


real_images = st.tuples(st.integers(0, 10**6), st.sampled_from([(8, 8), (12, 10), (12, 10, 3), (16, 16)]))
PLAIN_TEXT = {"data": "digits", "classifier": "digits", "size": "16x12", "sentence": "the cat sees the ball ."}


def argv_for(action, data, folder: Path, runs: dict[str, Path], stream: bytes):
    """(argv, the output path, the values as the CLI passes them to ``Action.bind``). Half the cases are drawn
    valid (real small files, working runs, values inside their ranges), so the fuzz reaches past the checks; the
    others draw any value, damaged files and broken runs."""
    draw = data.draw
    valid = draw(st.booleans(), label="valid")
    positional, flags, values, out = [], [], {}, None
    for param in action.params:
        # a costly parameter is always given (its default may be thousands of images), and so is where to write
        # (its default is outside the test's folder: ./demo, the package's own weights)
        given = param.required or param.name in COSTLY or param.name == "out"
        given = given or draw(st.booleans(), label=f"give {param.name}")
        if not given:
            continue
        if param.kind in ("image", "mask"):
            content = draw(real_images if valid else images, label=param.name)
            value = str(write_input(folder / f"{param.name}.png", content))
        elif param.kind == "clip":
            kind = "gif" if valid else draw(st.sampled_from(["gif", "cut", "bytes"]))
            value = str(write_clip(folder / f"{param.name}.gif", kind, 0))
        elif param.kind == "bitstream":
            damage = "whole" if valid else draw(st.sampled_from(["whole", "cut", "flip", "bytes"]), label="stream")
            body = {"whole": stream, "cut": stream[: len(stream) // 2], "flip": stream[:-9] + b"\x00" + stream[-8:]}
            (folder / "in.isz").write_bytes(body.get(damage, os.urandom(30)))
            value = str(folder / "in.isz")
        elif param.kind == "run":
            working = sorted(name for name in runs if name in ("vae", "ddpm", "gan", "codec"))
            value = str(runs[draw(st.sampled_from(working if valid else sorted(runs)), label="run")])
        elif param.kind in ("json", "points"):
            (folder / f"{param.name}.json").write_text(json.dumps(draw(json_values, label=param.name)))
            value = str(folder / f"{param.name}.json")
        elif param.kind == "runs":
            value = str(draw(st.sampled_from([folder / "none", runs["vae"].parent.parent])))
        elif param.kind == "out":
            suffixes = [action.studio_suffix, ".png", ".gif", ".npz", ".txt", ".xyz", "/"]
            suffix = action.studio_suffix if valid else draw(st.sampled_from(suffixes))
            out = folder / ("out" + suffix if suffix != "/" else "outdir")
            value = str(out) + ("/" if suffix == "/" else "")
        elif param.kind == "path" and param.name == "out":  # a run folder to write
            out = folder / "new-run"
            value = str(out)
        elif param.kind == "path":  # a file to read: missing or not what it claims
            path = folder / draw(st.sampled_from(["absent.safetensors", "garbage.safetensors"]))
            if path.name == "garbage.safetensors":
                path.write_bytes(b"not safetensors")
            value = str(path)
        elif param.type is bool:
            values[param.name] = True
            flags.append(param.cli_flag)
            continue
        elif param.values():
            choices = [str(v) for v in param.values()]
            value = draw(st.sampled_from(choices) if valid else st.sampled_from([*choices, "nope"]))
        elif param.type in (int, float):
            value = number(param, draw, valid)
        elif param.name == "device":
            value = "cpu" if valid else draw(st.sampled_from(["cpu", "auto", "cuda:7", "nope"]))
        elif valid:
            if param.name not in PLAIN_TEXT:
                continue
            value = PLAIN_TEXT[param.name]
        else:
            value = draw(st.one_of(st.text(max_size=8), st.sampled_from(["digits", "16x12", "0x4", "x"])))
        values[param.name] = value
        if param.positional:
            positional.append(value)
        else:
            flags += [param.cli_flag, value]
    # "--" ends the options, so a drawn sentence like "-0" stays a value
    return [*action.name.split(), *flags, "--", *positional], out, values


@pytest.fixture(scope="module")
def fuzz_runs(tmp_path_factory, vae_run, ddpm_run, gan_run, codec_run):
    """Tiny runs of four families, a run with truncated weights, one with a damaged config, and a missing one."""
    root = tmp_path_factory.mktemp("fuzz-runs")
    truncated = root / "truncated"
    shutil.copytree(vae_run, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    damaged = root / "damaged"
    shutil.copytree(vae_run, damaged)
    (damaged / "config.json").write_text("{not json")
    runs = {"vae": vae_run, "ddpm": ddpm_run, "gan": gan_run, "codec": codec_run}
    stream = load_codec(codec_run).encode(np.random.default_rng(0).random((8, 8)).astype(np.float32))
    return {**runs, "truncated": truncated, "damaged": damaged, "missing": root / "missing"}, stream


@pytest.fixture(scope="module", autouse=True)
def away_from_the_checkout(tmp_path_factory):
    """Actions that default to ``runs/`` under the working folder (``decompress`` looks there for a stream's codec)
    see an empty one, not whatever runs a developer keeps in the checkout."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


# actions whose every valid case costs seconds whatever is drawn (the demo evaluates its run in full): fewer cases
SLOW = {"demo"}


@pytest.mark.parametrize("name", [action.name for action in ACTIONS if action.name not in SLOW])
@settings(FUZZ)
@given(data=st.data())
def test_every_action_exits_0_or_2_writes_nothing_on_failure_and_says_what_the_studio_says(
    name, data, fuzz_runs, tmp_path_factory
):
    check_case(name, data, fuzz_runs, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(SLOW))
@settings(FUZZ, max_examples=max(3, EXAMPLES // 4))
@given(data=st.data())
def test_the_slow_actions_too(name, data, fuzz_runs, tmp_path_factory):
    check_case(name, data, fuzz_runs, tmp_path_factory)


def check_case(name, data, fuzz_runs, tmp_path_factory):
    action = ACTIONS.get(name)
    runs, stream = fuzz_runs
    folder = tmp_path_factory.mktemp(name)
    argv, out, values = argv_for(action, data, folder, runs, stream)
    expected = None
    try:
        action.bind(values)
    except InputError as error:  # refused by the table: the CLI must say exactly this, and do nothing
        expected = f"imsynth: error: {error}"
    code, err = run(argv)
    if LOG:
        with open(LOG, "a") as log:
            log.write(json.dumps({"action": name, "argv": argv, "code": code, "error": err.strip()[:200]}) + "\n")
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err, (argv, err)
    assert not list(folder.rglob("*.tmp*")), argv
    if code == 2:
        assert err.startswith("imsynth: error: ") and len(err.strip().splitlines()) == 1, (argv, err)
        if out is not None:
            assert not out.exists() or (out.is_dir() and not any(out.iterdir())), argv
    if expected is not None:
        assert (code, err.strip()) == (2, expected), argv
