"""imsynth distill: a student that takes in 2 steps what its teacher takes in 8, written as an ordinary run."""

import json

import numpy as np
import pytest
import torch

from imsynth.apps.distill import distill
from imsynth.models import load_run
from imsynth.models.samplers import make_sampler
from tests.helpers import assert_one_line_error, run_cli, tiny_run


@pytest.fixture(scope="module")
def distilled(ddpm_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("distill") / "student"
    report = distill(ddpm_run, out, steps=2, start_steps=8, iterations=150, batch_size=32, lr=1e-3, device="cpu")
    return out, report


def _ddim(model, noise, steps, spacing="trailing"):
    sampler = make_sampler("ddim", model.schedule, steps, eta=0.0, spacing=spacing)
    return model.run_sampler(noise.clone(), sampler, None)


def test_the_student_in_2_steps_lands_nearer_the_teachers_8_than_the_teacher_in_2(ddpm_run, distilled):
    out, report = distilled
    teacher, _ = load_run(ddpm_run)
    student, _ = load_run(out)
    noise = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    reference = _ddim(teacher, noise, 8)
    teacher_gap = float((_ddim(teacher, noise, 2) - reference).abs().mean())
    student_gap = float((_ddim(student, noise, 2) - reference).abs().mean())
    assert student_gap < 0.7 * teacher_gap, (student_gap, teacher_gap)
    assert [r["student_steps"] for r in report["rounds"]] == [4, 2]


def test_a_latent_diffusion_run_distils_in_its_latent_and_its_student_samples_images(tmp_path_factory, tmp_path):
    root = tmp_path_factory.mktemp("latent")
    autoencoder = tiny_run(root, "vae", steps=60, latent_dim=4)
    teacher_run = tiny_run(
        root, "latent-ddpm", steps=300, autoencoder=str(autoencoder), hidden=64, blocks=2, timesteps=100
    )
    out = tmp_path / "student"
    distill(teacher_run, out, steps=2, start_steps=8, iterations=150, batch_size=32, lr=1e-3, device="cpu")
    teacher, _ = load_run(teacher_run)
    student, _ = load_run(out)
    noise = torch.randn(64, 4, generator=torch.Generator().manual_seed(7))  # the latent's x_T
    reference = _ddim(teacher, noise, 8)
    teacher_gap = float((_ddim(teacher, noise, 2) - reference).abs().mean())
    student_gap = float((_ddim(student, noise, 2) - reference).abs().mean())
    assert student_gap < 0.7 * teacher_gap, (student_gap, teacher_gap)
    assert student.sample(3).shape == (3, 1, 8, 8)  # decoded by the autoencoder the run carries


def test_the_student_is_an_ordinary_run_that_samples_in_its_steps(distilled, tmp_path, capsys):
    out, _ = distilled
    saved = json.loads((out / "config.json").read_text())
    assert saved["model_config"]["sample_steps"] == 2 and saved["model_config"]["sample_spacing"] == "trailing"
    assert saved["distilled"]["start_steps"] == 8
    code, _, err = run_cli(capsys, "sample", str(out), "-n", "4", "-o", str(tmp_path / "s.npz"), "--device", "cpu")
    assert code == 0, err
    assert np.load(tmp_path / "s.npz")["images"].shape == (4, 8, 8, 1)
    code, report, err = run_cli(capsys, "eval", str(out), "--n", "20", "--device", "cpu")
    assert code == 0, err
    assert json.loads(report)["sampling"] == {"sampler": "ddim", "steps": 2, "evaluations": 2}


def test_bad_distillation_requests_exit_2_and_write_nothing(ddpm_run, gan_run, tmp_path, capsys):
    out = tmp_path / "student"
    cases = [
        ([str(gan_run), "--out", str(out)], ["distill needs an image diffusion run", "latent-ddpm", "dcgan"]),
        ([str(ddpm_run), "--out", str(out), "--steps", "4", "--start-steps", "12"], ["power of two"]),
        ([str(ddpm_run), "--out", str(out), "--steps", "64", "--start-steps", "128"], ["beyond the run's 100"]),
    ]
    for arguments, fragments in cases:
        code, _, err = run_cli(capsys, "distill", *arguments, "--iterations", "1", "--device", "cpu")
        assert_one_line_error(code, err, *fragments)
        assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(capsys, "distill", str(ddpm_run), "--out", str(out), "--iterations", "1")
    assert_one_line_error(code, err, "exists and is not empty")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
