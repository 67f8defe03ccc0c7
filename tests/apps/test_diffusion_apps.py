"""Diffusion runs through the CLI: sampling with swappable samplers, guidance, RePaint inpainting, explore, eval."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers import assert_one_line_error, run_cli


def _image_and_mask(tmp_path, size=8, hole=(slice(2, 6), slice(3, 7)), mask_size=None):
    pixels = np.random.default_rng(0).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "image.png")
    mask = np.zeros((mask_size or size, mask_size or size), np.uint8)
    mask[hole] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return pixels, mask > 0


@pytest.mark.parametrize(
    "options",
    [
        ["--sampler", "ddpm", "--steps", "12"],
        ["--sampler", "ddim", "--steps", "5"],
        ["--sampler", "ddim", "--steps", "5", "--eta", "1"],
        ["--sampler", "dpm++2m", "--steps", "4"],
        ["--sampler", "unipc", "--steps", "4"],
        ["--sampler", "heun", "--steps", "3"],
        ["--sampler", "euler", "--steps", "4"],
        [],
    ],
)
def test_sample_with_each_sampler_writes_finite_images(ddpm_run, tmp_path, capsys, options):
    code, out, err = run_cli(
        capsys, "sample", str(ddpm_run), "-n", "6", "-o", str(tmp_path / "s.npz"), "--device", "cpu", *options
    )
    assert code == 0, err
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (6, 8, 8, 1) and images.dtype == np.uint8
    assert images.std() > 0  # not a constant picture


def test_ddim_eta_zero_samples_repeat_for_a_seed_and_change_with_it(ddpm_run, tmp_path, capsys):
    def draw(seed, name):
        code, _, err = run_cli(
            capsys,
            "sample",
            str(ddpm_run),
            "-n",
            "4",
            "-o",
            str(tmp_path / name),
            "--seed",
            str(seed),
            "--sampler",
            "ddim",
            "--steps",
            "6",
            "--device",
            "cpu",
        )
        assert code == 0, err
        return np.load(tmp_path / name)["images"]

    first, again, other = draw(3, "a.npz"), draw(3, "b.npz"), draw(4, "c.npz")
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_guided_class_samples_from_the_conditional_run(cddpm_run, tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "sample",
        str(cddpm_run),
        "-n",
        "4",
        "--class",
        "3",
        "--guidance",
        "3",
        "--steps",
        "4",
        "-o",
        str(tmp_path / "threes.npz"),
        "--device",
        "cpu",
    )
    assert code == 0, err
    saved = np.load(tmp_path / "threes.npz")
    assert saved["images"].shape == (4, 8, 8, 1) and saved["labels"].tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize(
    "options,fragments",
    [
        (["--sampler", "lms"], ["'lms'", "ddim", "dpm++2m", "unipc", "heun"]),
        (["--steps", "0"], ["--steps must be between 1 and the 100 training timesteps, got 0"]),
        (["--steps", "101"], ["--steps must be between 1 and the 100 training timesteps, got 101"]),
        (["--guidance", "3"], ["guidance needs a class-conditional run"]),
        (["--sampler", "ddpm", "--eta", "0.3"], ["--eta does not apply to sampler 'ddpm'"]),
    ],
)
def test_bad_sampling_options_exit_2_with_one_line(ddpm_run, tmp_path, capsys, options, fragments):
    code, _, err = run_cli(
        capsys, "sample", str(ddpm_run), "-n", "2", "-o", str(tmp_path / "x.png"), "--device", "cpu", *options
    )
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "x.png").exists()


def test_sampler_options_on_a_gan_run_are_refused(gan_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(gan_run), "-n", "2", "-o", str(tmp_path / "x.png"), "--steps", "5")
    assert_one_line_error(code, err, "--steps apply to diffusion runs", "'dcgan'")


def test_diffusion_inpainting_keeps_every_known_pixel(ddpm_run, tmp_path, capsys):
    pixels, hole = _image_and_mask(tmp_path)
    code, _, err = run_cli(
        capsys,
        "inpaint",
        str(tmp_path / "image.png"),
        str(tmp_path / "mask.png"),
        "-o",
        str(tmp_path / "out.png"),
        "--method",
        "diffusion",
        "--model",
        str(ddpm_run),
        "--steps",
        "10",
        "--jump-length",
        "3",
        "--resamplings",
        "2",
        "--device",
        "cpu",
    )
    assert code == 0, err
    filled = np.asarray(Image.open(tmp_path / "out.png"))
    assert filled.shape == pixels.shape
    assert np.array_equal(filled[~hole], pixels[~hole])
    assert not np.array_equal(filled[hole], pixels[hole])


def test_conditional_diffusion_inpainting_needs_the_class(cddpm_run, tmp_path, capsys):
    _image_and_mask(tmp_path)
    args = [
        "inpaint",
        str(tmp_path / "image.png"),
        str(tmp_path / "mask.png"),
        "-o",
        str(tmp_path / "out.png"),
        "--method",
        "diffusion",
        "--model",
        str(cddpm_run),
        "--steps",
        "4",
        "--device",
        "cpu",
    ]
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, "--class K")
    code, _, err = run_cli(capsys, *args, "--class", "2")
    assert code == 0, err


@pytest.mark.parametrize(
    "case,fragments",
    [
        ("mask-size", ["mask.png", "10x10", "8x8"]),
        ("gan-run", ["not a diffusion model", "--method gan"]),
        ("diffusion-as-gan", ["--method diffusion"]),
        ("no-model", ["--method diffusion needs --model RUN"]),
    ],
)
def test_bad_diffusion_inpainting_input_exits_2(ddpm_run, gan_run, tmp_path, capsys, case, fragments):
    _image_and_mask(tmp_path, mask_size=10 if case == "mask-size" else None)
    method = "gan" if case == "diffusion-as-gan" else "diffusion"
    args = [
        "inpaint",
        str(tmp_path / "image.png"),
        str(tmp_path / "mask.png"),
        "-o",
        str(tmp_path / "out.png"),
        "--method",
        method,
        "--steps",
        "3",
        "--device",
        "cpu",
    ]
    if case != "no-model":
        args += ["--model", str(gan_run if case == "gan-run" else ddpm_run)]
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "out.png").exists()


def test_explore_interpolates_ddim_latents_and_refuses_pca(ddpm_run, tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "explore",
        str(ddpm_run),
        "-o",
        str(tmp_path / "slerp.png"),
        "--rows",
        "2",
        "--steps",
        "4",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert json.loads(out)["images"] == 8
    grid = np.asarray(Image.open(tmp_path / "slerp.png"))
    assert grid.ndim >= 2 and grid.std() > 0
    code, _, err = run_cli(
        capsys, "explore", str(ddpm_run), "-o", str(tmp_path / "pca.png"), "--mode", "pca", "--device", "cpu"
    )
    assert_one_line_error(code, err, "pca directions need", "lerp, slerp and walk")


def test_slerp_endpoints_decode_like_plain_ddim_samples(ddpm_run):
    import torch

    from imsynth.apps.explore import interpolation_codes
    from imsynth.models import load_run

    model, _ = load_run(ddpm_run)
    codes = interpolation_codes(model, 1, 3, seed=0)
    decoded = model.decode_latents(codes)
    direct = model.sample(1, sampler="ddim", eta=0.0, initial_noise=codes[:1])
    assert decoded.shape == (3, 1, 8, 8)
    assert torch.allclose(decoded[:1], direct)


def test_eval_reports_sample_quality_for_a_diffusion_run(ddpm_run, capsys):
    code, out, err = run_cli(capsys, "eval", str(ddpm_run), "--n", "40", "--device", "cpu")
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "ddpm" and "likelihood" not in report
    quality = report["sample_quality"]
    assert quality["n"] == 40 and quality["fid"] > 0 and 0 <= quality["precision"] <= 1


def test_eval_samples_with_the_chosen_sampler_and_says_which(ddpm_run, capsys):
    reports = {}
    for name, steps in (("ddim", "5"), ("heun", "3")):
        code, out, err = run_cli(
            capsys, "eval", str(ddpm_run), "--n", "40", "--sampler", name, "--steps", steps, "--device", "cpu"
        )
        assert code == 0, err
        reports[name] = json.loads(out)
    assert reports["ddim"]["sampling"] == {"sampler": "ddim", "steps": 5, "evaluations": 5}
    assert reports["heun"]["sampling"] == {"sampler": "heun", "steps": 3, "evaluations": 5}
    # the same seed, other samples: the option reached generation
    assert reports["ddim"]["sample_quality"]["fid"] != reports["heun"]["sample_quality"]["fid"]


def test_eval_refuses_sampling_options_it_cannot_use(ddpm_run, gan_run, capsys):
    code, _, err = run_cli(capsys, "eval", str(gan_run), "--n", "20", "--steps", "5")
    assert_one_line_error(code, err, "--sampler and --steps apply to diffusion runs", "'dcgan'")
    code, _, err = run_cli(capsys, "eval", str(ddpm_run), "--n", "20", "--sampler", "unipc", "--steps", "101")
    assert_one_line_error(code, err, "--steps must be between 1 and the 100 training timesteps, got 101")


def test_eval_samples_with_the_chosen_guidance_and_says_which(cddpm_run, capsys):
    reports = {}
    for guidance in ("1", "4"):
        code, out, err = run_cli(
            capsys, "eval", str(cddpm_run), "--n", "40", "--steps", "4", "--guidance", guidance, "--device", "cpu"
        )
        assert code == 0, err
        reports[guidance] = json.loads(out)
    assert reports["1"]["sampling"]["guidance"] == 1.0 and reports["4"]["sampling"]["guidance"] == 4.0
    # the same seed and sampler, other samples: the scale reached generation
    assert reports["1"]["sample_quality"]["fid"] != reports["4"]["sample_quality"]["fid"]


def test_eval_refuses_guidance_without_classes(ddpm_run, gan_run, cddpm_run, capsys):
    code, _, err = run_cli(capsys, "eval", str(ddpm_run), "--n", "20", "--guidance", "2")
    assert_one_line_error(code, err, "guidance needs a class-conditional run", "'ddpm'")
    code, _, err = run_cli(capsys, "eval", str(gan_run), "--n", "20", "--guidance", "2")
    assert_one_line_error(code, err, "--guidance applies to conditional diffusion runs", "'dcgan'")
    code, _, err = run_cli(capsys, "eval", str(cddpm_run), "--n", "20", "--guidance", "nan")
    assert_one_line_error(code, err, "--guidance")
