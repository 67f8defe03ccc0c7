"""Property-based fuzzing of the command line: whatever the files and options, the exit code is 0 or 2 (never 1,
never a traceback) and a failed command leaves no output file behind (not even a temporary one).

Inputs: random bytes (and random small real images) as image and mask files, random JSON for points and
keyframes, random option values and random ``--set`` assignments (checked with ``train --dry-run``). The case
counts add up to more than 2,000 per run."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imsynth.cli import main
from imsynth.image import save_image

FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], derandomize=True
)


def run(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
            code = 0
        except SystemExit as done:
            code = done.code or 0
    return code, err.getvalue()


def check(args: list[str], folder: Path, outputs: list[Path]) -> None:
    for output in outputs:
        if output.is_file():
            output.unlink()
    code, err = run(args)
    assert code in (0, 2), (args, err)
    assert "Traceback" not in err, (args, err)
    if code == 2:
        assert err.startswith("imsynth: error: ") and len(err.strip().splitlines()) == 1, (args, err)
        assert not any(output.exists() for output in outputs), args
    assert not list(folder.rglob("*.tmp*")), args


def picture(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


# Files: a real small picture or mask, or random bytes (often with a real PNG header).
file_bytes = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda tail: b"\x89PNG\r\n\x1a\n" + tail),
    st.tuples(st.integers(0, 10**6), st.sampled_from([(12, 10), (12, 10, 3), (6, 6), (12, 10, 4), (1, 9)])),
)


def write_file(path: Path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        seed, shape = content
        save_image(path, picture(seed, shape) > 0.6 if "mask" in path.name else picture(seed, shape))


numbers = st.one_of(st.integers(-5, 70).map(str), st.sampled_from(["0", "-1", "1e9", "nan", "inf", "x", "", "3.5"]))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-50, 50),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=5),
    ),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
points_json = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "src": st.lists(st.lists(st.integers(-3, 14), min_size=2, max_size=2), max_size=6),
            "dst": st.lists(st.lists(st.integers(-3, 14), min_size=2, max_size=2), max_size=6),
        }
    ),
)
keyframes_json = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "points": st.lists(st.lists(st.integers(0, 11), min_size=2, max_size=2), min_size=0, max_size=5),
            "keys": st.lists(
                st.fixed_dictionaries(
                    {
                        "t": st.floats(-1, 3),
                        "points": st.lists(st.lists(st.integers(0, 11), min_size=2, max_size=2), max_size=5),
                    }
                ),
                max_size=3,
            ),
            "fps": st.sampled_from([1, 5, 0, -2, "x"]),
            "duration": st.sampled_from([0.2, 0.5, 0, "y"]),
            "warp": st.sampled_from(["mls-rigid", "tps", "swirl", "nope"]),
        }
    ),
)


@pytest.fixture
def folder(tmp_path):
    return tmp_path


@settings(FUZZ, max_examples=1000)
@given(
    image=file_bytes,
    mask=file_bytes,
    method=st.sampled_from(
        [
            "fill-constant",
            "fill-mean",
            "fill-nearest",
            "interp-linear",
            "harmonic",
            "biharmonic",
            "push-pull",
            "rbf",
            "exemplar",
            "patchmatch",
            "telea",
            "gan",
        ]
    ),
    extra=st.lists(
        st.sampled_from(
            ["--patch", "--seed", "--band", "--iterations", "--restarts", "--bit-depth", "--class"]
        ).flatmap(lambda flag: st.tuples(st.just(flag), numbers)),
        max_size=2,
    ),
    suffix=st.sampled_from([".png", ".tif", ".jpg", ".xyz", ""]),
)
def test_inpaint_never_fails_internally(folder, image, mask, method, extra, suffix):
    write_file(folder / "image.png", image)
    write_file(folder / "mask.png", mask)
    out = folder / f"out{suffix}"
    args = ["inpaint", str(folder / "image.png"), str(folder / "mask.png"), "-o", str(out), "--method", method]
    check(args + [value for pair in extra for value in pair], folder, [out])


@settings(FUZZ, max_examples=1000)
@given(
    image=file_bytes,
    other=file_bytes,
    mask=file_bytes,
    command=st.sampled_from(["resize", "blend", "texture"]),
    scale=numbers,
    size=st.sampled_from(["16x12", "0x4", "x", "99999x99999", "3x3", "40x1"]),
    method=st.sampled_from(["bicubic", "area", "nearest", "quilting", "multiscale", "lanczos", "nope"]),
    extra=st.lists(
        st.sampled_from(["--levels", "--block", "--patch", "--overlap", "--seed", "--tolerance"]).flatmap(
            lambda flag: st.tuples(st.just(flag), numbers)
        ),
        max_size=2,
    ),
)
def test_resize_blend_texture_never_fail_internally(folder, image, other, mask, command, scale, size, method, extra):
    write_file(folder / "a.png", image)
    write_file(folder / "b.png", other)
    write_file(folder / "mask.png", mask)
    out = folder / "out.png"
    if command == "resize":
        args = ["resize", str(folder / "a.png"), "-o", str(out), "--scale", scale, "--method", method]
    elif command == "blend":
        args = ["blend", str(folder / "a.png"), str(folder / "b.png"), str(folder / "mask.png"), "-o", str(out)]
    else:
        args = ["texture", str(folder / "a.png"), "-o", str(out), "--size", size, "--method", method]
    check(args + [value for pair in extra for value in pair], folder, [out])


@settings(FUZZ, max_examples=800)
@given(
    image=file_bytes,
    points=points_json,
    keys=keyframes_json,
    method=st.sampled_from(
        ["affine", "similarity", "projective", "tps", "mls-rigid", "mesh", "swirl", "elastic", "bend"]
    ),
    extra=st.lists(
        st.sampled_from(["--order", "--mode", "--grid", "--strength", "--radius", "--sigma"]).flatmap(
            lambda flag: st.tuples(st.just(flag), numbers)
        ),
        max_size=2,
    ),
    command=st.sampled_from(["warp", "animate", "morph"]),
)
def test_warp_animate_morph_never_fail_internally(folder, image, points, keys, method, extra, command):
    write_file(folder / "a.png", image)
    (folder / "points.json").write_text(json.dumps(points))
    (folder / "keys.json").write_text(json.dumps(keys))
    if command == "warp":
        out = folder / "out.png"
        args = [
            "warp",
            str(folder / "a.png"),
            "-o",
            str(out),
            "--method",
            method,
            "--points",
            str(folder / "points.json"),
        ]
        args += [value for pair in extra for value in pair]
    elif command == "animate":
        out = folder / "out.gif"
        args = ["animate", str(folder / "a.png"), "--keyframes", str(folder / "keys.json"), "-o", str(out)]
    else:
        out = folder / "out.gif"
        args = [
            "morph",
            str(folder / "a.png"),
            str(folder / "a.png"),
            "-o",
            str(out),
            "--frames",
            "3",
            "--points",
            str(folder / "points.json"),
        ]
    check(args, folder, [out])


settings_values = st.one_of(
    numbers,
    st.sampled_from(
        [
            "none",
            "None",
            "true",
            "[1, 2]",
            "[0.5, 0.9]",
            "wasserstein",
            "batch",
            "relu",
            "cosine",
            "-1e-3",
            "NaN",
            '"x"',
            "{}",
        ]
    ),
)
fields = st.sampled_from(
    [
        "beta",
        "latent_dim",
        "width",
        "loss",
        "gp_weight",
        "d_norm",
        "n_critic",
        "train.lr",
        "train.batch_size",
        "train.betas",
        "train.steps",
        "train.schedule",
        "timesteps",
        "sample_steps",
        "capacity_max",
        "total_correlation",
        "bogus",
        "train.precision",
        "heads",
    ]
)


@settings(FUZZ, max_examples=400)
@given(
    model=st.sampled_from(["vae", "beta-tcvae", "cvae", "dcgan", "wgan-gp", "ddpm"]),
    assignments=st.lists(st.tuples(fields, settings_values), max_size=4),
)
def test_random_set_values_are_refused_or_accepted_never_crash(folder, model, assignments):
    args = ["train", model, "--out", str(folder / "run"), "--dry-run", "--limit", "64"]
    for key, value in assignments:
        args += ["--set", f"{key}={value}"]
    check(args, folder, [folder / "run" / "config.json"])
