import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.apps.inpaint import inpaint_array
from imsynth.apps.inversion import inpaint_with_model, invert
from imsynth.classical.interpolate import harmonic_fill
from imsynth.errors import InputError
from imsynth.models import build_model, load_run
from tests.helpers import assert_one_line_error, run_cli
from tests.models.test_gan import tiny_gan_config


def calibrated_generator(**overrides):
    """A small untrained DCGAN whose batch-norm statistics have seen some codes (as after training)."""
    torch.manual_seed(0)
    model = build_model("dcgan", tiny_gan_config("dcgan", latent_dim=4, **overrides))
    with torch.no_grad():
        for _ in range(5):
            model.generator(torch.randn(64, 4))
    return model.eval()


def test_inversion_recovers_a_generated_images_code():
    model = calibrated_generator()
    codes = torch.randn(4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        images = model.decode_latents(codes)
    # prior_weight=0: the norm prior suits high-dimensional codes (norm ~ sqrt(d)), not a 4-d test latent
    result = invert(model, images, steps=400, restarts=4, prior_weight=0.0)
    relative = (result.latents - codes).norm(dim=1) / codes.norm(dim=1)
    assert torch.all(relative < 0.01), relative
    assert (result.images - images).abs().max() < 1e-3
    assert result.loss.shape == (4,) and torch.all(result.loss < 1e-6)
    assert model.training is False and all(p.requires_grad for p in model.parameters())


def test_inversion_from_known_pixels_only_ignores_the_hole():
    model = calibrated_generator()
    code = torch.randn(1, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        image = model.decode_latents(code)
    hole = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    hole[..., 2:6, 2:6] = True  # True = unknown, as every mask in imsynth
    vandalised = image.clone()
    vandalised[..., 2:6, 2:6] = 1.0  # garbage in the hole must not matter
    result = invert(model, vandalised, hole=hole, steps=400, restarts=4, prior_weight=0.0)
    assert (result.images - image).abs().max() < 0.02


def test_harmonic_fill_solves_laplace_and_keeps_known_pixels():
    rows, cols = np.mgrid[0:12, 0:12].astype(np.float32)
    plane = 0.02 * rows + 0.03 * cols + 0.1  # harmonic: the fill must reproduce it exactly
    mask = np.zeros((12, 12), bool)
    mask[3:9, 4:10] = True
    image = np.where(mask, 0.0, plane)
    filled = harmonic_fill(np.stack([image, 1 - image], axis=2), mask)
    assert filled.dtype == np.float32
    assert np.allclose(filled[..., 0], plane, atol=1e-5) and np.allclose(filled[..., 1], 1 - plane, atol=1e-5)
    assert np.array_equal(harmonic_fill(image, np.zeros_like(mask)), image)


def test_model_inpainting_keeps_known_pixels_exactly_and_blends_the_hole(gan_run):
    model, _ = load_run(gan_run, device="cpu")
    image = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    filled = inpaint_with_model(model, image, mask, steps=30, restarts=2)
    assert filled.shape == image.shape and filled.dtype == np.float32
    assert np.array_equal(filled[~mask], image[~mask])
    assert np.all((filled >= 0) & (filled <= 1)) and not np.array_equal(filled[mask], image[mask])
    # the boundary (inpaint_array) checks the mask once; the inversion checks the image against the model
    with pytest.raises(InputError, match="covers the whole image"):
        inpaint_array(image, np.ones((8, 8), bool), method="gan", model=model, steps=2)
    with pytest.raises(InputError, match="6x8"):
        inpaint_array(image, np.zeros((8, 6), bool), method="gan", model=model, steps=2)
    rgb = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(InputError, match="1-channel 8x8 images"):
        inpaint_array(rgb, mask, method="gan", model=model, steps=2)
    with pytest.raises(InputError, match="--restarts does not apply to inpainting method 'harmonic'"):
        inpaint_array(image, mask, method="harmonic", restarts=2)


def _write(path, array):
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return str(path)


def test_inpaint_cli_gan_and_harmonic_with_bad_inputs(tmp_path, capsys, gan_run, cgan_run):
    image = _write(tmp_path / "x.png", np.random.default_rng(1).integers(0, 255, (8, 8)))
    hole = np.zeros((8, 8), np.uint8)
    hole[2:5, 2:5] = 255
    mask = _write(tmp_path / "m.png", hole)
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        capsys,
        "inpaint",
        image,
        mask,
        "-o",
        str(out),
        "--method",
        "gan",
        "--model",
        str(gan_run),
        "--steps",
        "20",
        "--restarts",
        "2",
        "--device",
        "cpu",
    )
    assert code == 0, err
    result, original = np.asarray(Image.open(out)), np.asarray(Image.open(image))
    assert np.array_equal(result[hole == 0], original[hole == 0])
    code, _, err = run_cli(capsys, "inpaint", image, mask, "-o", str(tmp_path / "h.png"), "--method", "harmonic")
    assert code == 0, err
    cases = [
        (["--method", "gan"], "needs --model RUN"),
        (["--method", "smudge"], "unknown inpainting method 'smudge'; valid: fill-constant"),
        (["--method", "gan", "--model", str(cgan_run)], "class-conditional: say which class"),
        (["--method", "gan", "--model", str(cgan_run), "--class", "12"], "class must be in 0..9, got 12"),
    ]
    for extra, message in cases:
        code, _, err = run_cli(capsys, "inpaint", image, mask, "-o", str(out), *extra)
        assert_one_line_error(code, err, message)
    big = _write(tmp_path / "big.png", np.zeros((16, 16)))
    big_mask = _write(tmp_path / "bigm.png", np.pad(hole, 4))
    code, _, err = run_cli(capsys, "inpaint", big, big_mask, "-o", str(out), "--method", "gan", "--model", str(gan_run))
    assert_one_line_error(code, err, "big.png: image is 16x16 with 1 channel(s); the model", "makes 8x8 images with 1")
    colour = _write(tmp_path / "rgb.png", np.zeros((8, 8, 3)))
    code, _, err = run_cli(capsys, "inpaint", colour, mask, "-o", str(out), "--method", "gan", "--model", str(gan_run))
    assert_one_line_error(code, err, "with 3 channel(s)")
    wrong = _write(tmp_path / "wrong.png", np.zeros((6, 8)))
    code, _, err = run_cli(capsys, "inpaint", image, wrong, "-o", str(out), "--method", "harmonic")
    assert_one_line_error(code, err, "wrong.png: mask is 8x6 (WxH) but the image is 8x8")
    full = _write(tmp_path / "full.png", np.full((8, 8), 255))
    code, _, err = run_cli(capsys, "inpaint", image, full, "-o", str(out), "--method", "gan", "--model", str(gan_run))
    assert_one_line_error(code, err, "covers the whole image")
    empty = _write(tmp_path / "empty.png", np.zeros((8, 8)))
    code, _, err = run_cli(capsys, "inpaint", image, empty, "-o", str(tmp_path / "same.png"), "--method", "harmonic")
    assert code == 0 and np.array_equal(np.asarray(Image.open(tmp_path / "same.png")), original)
