"""The classical commands end to end: inpaint (every classical method), texture, resize, blend, and their errors."""

import numpy as np
import pytest
from PIL import Image

from imsynth.classical.inpainting import INPAINTING
from tests.helpers import assert_one_line_error, run_cli


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "image.png")
    Image.fromarray(rgb[::-1].copy()).save(tmp_path / "other.png")
    mask = np.zeros((24, 32), np.uint8)
    mask[8:14, 10:20] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small-mask.png")
    Image.fromarray(np.full((24, 32), 255, np.uint8)).save(tmp_path / "full-mask.png")
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(tmp_path / "empty-mask.png")
    return tmp_path, rgb, mask > 0


@pytest.mark.parametrize("method", INPAINTING.names())  # the classical table holds only classical methods
def test_every_classical_inpainting_method_runs_from_the_cli_and_keeps_known_pixels(files, capsys, method):
    root, rgb, hole = files
    extra = ["--patch", "5"] if method in ("exemplar", "patchmatch") else []
    code, out, err = run_cli(
        capsys,
        "inpaint",
        str(root / "image.png"),
        str(root / "mask.png"),
        "-o",
        str(root / "out.png"),
        "--method",
        method,
        *extra,
    )
    assert code == 0, err
    filled = np.asarray(Image.open(root / "out.png"))
    assert filled.shape == rgb.shape and np.array_equal(filled[~hole], rgb[~hole])


def test_patchmatch_shape_fill_from_a_source_image(files, capsys):
    root, rgb, hole = files
    Image.fromarray(np.full((16, 16, 3), (200, 30, 30), np.uint8)).save(root / "red.png")
    code, _, err = run_cli(
        capsys,
        "inpaint",
        str(root / "image.png"),
        str(root / "mask.png"),
        "-o",
        str(root / "out.png"),
        "--method",
        "patchmatch",
        "--source",
        str(root / "red.png"),
        "--patch",
        "5",
    )
    assert code == 0, err
    assert np.all(np.asarray(Image.open(root / "out.png"))[hole] == (200, 30, 30))


def test_empty_mask_gives_back_the_image(files, capsys):
    root, rgb, _ = files
    code, _, err = run_cli(
        capsys,
        "inpaint",
        str(root / "image.png"),
        str(root / "empty-mask.png"),
        "-o",
        str(root / "out.png"),
        "--method",
        "biharmonic",
    )
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(root / "out.png")), rgb)


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["image.png", "small-mask.png", "--method", "harmonic"], ["small-mask.png", "10x10", "32x24"]),
        (["image.png", "full-mask.png", "--method", "patchmatch"], ["full-mask.png", "covers the whole image"]),
        (
            ["image.png", "mask.png", "--method", "harmonic", "--class", "2"],
            ["--class says the image's class", "--model"],
        ),
        (["image.png", "mask.png", "--method", "telea"], ["unknown inpainting method 'telea'", "biharmonic"]),
        (["image.png", "mask.png", "--method", "exemplar", "--patch", "41"], ["patch size 41 is larger"]),
        (
            ["image.png", "mask.png", "--method", "harmonic", "--patch", "5"],
            ["--patch does not apply to inpainting method 'harmonic' (it applies to exemplar, patchmatch)"],
        ),
        (["image.png", "nothing.png", "--method", "harmonic"], ["nothing.png", "no such image file"]),
    ],
)
def test_bad_inpainting_input_exits_2_and_writes_nothing(files, capsys, args, fragments):
    root = files[0]
    paths = [str(root / a) if a.endswith(".png") else a for a in args]
    code, _, err = run_cli(capsys, "inpaint", *paths, "-o", str(root / "out.png"))
    assert_one_line_error(code, err, *fragments)
    assert not (root / "out.png").exists()


@pytest.mark.parametrize("method", ["quilting", "multiscale", "efros-leung"])
def test_texture_command_writes_the_requested_size(files, capsys, method):
    root = files[0]
    size = "20x12" if method == "efros-leung" else "48x40"
    code, out, err = run_cli(
        capsys,
        "texture",
        str(root / "image.png"),
        "-o",
        str(root / "t.png"),
        "--size",
        size,
        "--method",
        method,
        "--block" if method == "quilting" else "--patch",
        "5",
        "--seed",
        "2",
    )
    assert code == 0, err
    width, height = (int(v) for v in size.split("x"))
    assert np.asarray(Image.open(root / "t.png")).shape == (height, width, 3)


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--size", "64"], ["--size must look like WIDTHxHEIGHT"]),
        (["--size", "64x64", "--block", "99"], ["image.png", "larger than the 32x24 sample"]),
        (["--size", "64x64", "--patch", "9"], ["--patch does not apply to texture method 'quilting'", "--block"]),
        (["--size", "99999x99999"], ["99999x99999 is 9,999,800,001 pixels; the limit is"]),
        (["--size", "64x64", "--method", "wang-tiles"], ["unknown texture method 'wang-tiles'"]),
    ],
)
def test_bad_texture_input_exits_2(files, capsys, args, fragments):
    root = files[0]
    code, _, err = run_cli(capsys, "texture", str(root / "image.png"), "-o", str(root / "t.png"), *args)
    assert_one_line_error(code, err, *fragments)


def test_resize_and_blend_commands(files, capsys):
    root, rgb, hole = files
    code, _, err = run_cli(
        capsys, "resize", str(root / "image.png"), "-o", str(root / "r.png"), "--scale", "0.5", "--method", "area"
    )
    assert code == 0, err
    small = np.asarray(Image.open(root / "r.png")).astype(np.float64)
    assert small.shape == (12, 16, 3)
    expected = rgb.astype(np.float64).reshape(12, 2, 16, 2, 3).mean(axis=(1, 3))
    assert np.abs(small - expected).max() <= 1
    code, _, err = run_cli(capsys, "resize", str(root / "image.png"), "-o", str(root / "r.png"), "--size", "7x5")
    assert code == 0 and np.asarray(Image.open(root / "r.png")).shape == (5, 7, 3)
    code, _, err = run_cli(
        capsys,
        "blend",
        str(root / "image.png"),
        str(root / "other.png"),
        str(root / "mask.png"),
        "-o",
        str(root / "b.png"),
        "--levels",
        "1",
    )
    assert code == 0, err
    blended = np.asarray(Image.open(root / "b.png"))
    other = rgb[::-1]
    assert np.array_equal(blended[hole], other[hole]) and np.array_equal(blended[~hole], rgb[~hole])


@pytest.mark.parametrize(
    "command,fragments",
    [
        (["resize", "image.png", "-o", "r.png"], ["exactly one of --scale or --size"]),
        (["resize", "image.png", "-o", "r.png", "--scale", "-2"], ["scale must be a positive number"]),
        (["blend", "image.png", "other.png", "small-mask.png", "-o", "b.png"], ["small-mask.png", "10x10"]),
        (["blend", "image.png", "small-mask.png", "mask.png", "-o", "b.png"], ["small-mask.png", "10x10"]),
    ],
)
def test_bad_resize_and_blend_input_exits_2(files, capsys, command, fragments):
    root = files[0]
    args = [str(root / a) if a.endswith(".png") else a for a in command]
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, *fragments)
