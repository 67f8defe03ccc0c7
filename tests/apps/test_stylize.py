"""Style transfer: texture transfer redraws the content from pieces of the style; the Gram optimisation moves
the Gram statistics towards the style's while staying nearer the content than the style image is."""

import numpy as np
import pytest

from imsynth.apps.stylize import style_report, stylize
from imsynth.classical.style import STYLIZERS, texture_transfer
from imsynth.errors import InputError
from imsynth.models.networks import RandomFeatures, gram


def _images():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 31
    content = np.stack([yy, xx, 0.5 * (yy + xx)], axis=2).astype(np.float32)
    stripes = (np.sin(np.arange(48) * 1.3)[None, :] > 0).astype(np.float32).repeat(48, axis=0)
    style = np.stack([stripes, 1 - stripes, 0.5 + 0 * stripes], axis=2) * 0.8 + 0.1 * rng.random((48, 48, 3))
    return content, style.astype(np.float32)


def test_texture_transfer_is_made_of_style_pixels():
    content, style = _images()
    result = texture_transfer(content, style, block=12, passes=2, seed=3)
    assert result.shape == content.shape
    palette = {tuple(p) for p in style.reshape(-1, 3)}
    assert all(tuple(p) in palette for p in result.reshape(-1, 3)[::7])
    again = texture_transfer(content, style, block=12, passes=2, seed=3)
    assert np.array_equal(result, again)
    grey = texture_transfer(content, style.mean(axis=2), block=12, passes=1)
    assert grey.shape == content.shape[:2]


def test_texture_transfer_follows_the_content():
    # a left-dark / right-bright content drawn from a style with dark and bright halves keeps its layout
    content = np.zeros((24, 48), np.float32)
    content[:, 24:] = 1
    rng = np.random.default_rng(1)
    style = np.concatenate([0.2 * rng.random((40, 20)), 0.8 + 0.2 * rng.random((40, 20))], axis=1).astype(np.float32)
    result = texture_transfer(content, style, block=8, passes=2, alpha=0.2)
    assert result[:, :20].mean() < 0.35 and result[:, 28:].mean() > 0.65


def test_gram_optimisation_moves_the_statistics_towards_the_style():
    content, style = _images()
    result, info = stylize(content, style, method_name="gram", steps=60, width=16, scales=3, strength=1.0, device="cpu")
    report = style_report(result, content, style)
    assert report["result"]["style_distance"] < 0.5 * report["content"]["style_distance"]
    assert report["result"]["content_distance"] < report["style"]["content_distance"]
    assert result.shape == content.shape and 0 <= result.min() and result.max() <= 1 and info["seconds"] >= 0


def test_random_features_are_fixed_by_seed_and_grams_symmetric():
    import torch

    a, b = RandomFeatures(3, width=8, seed=0), RandomFeatures(3, width=8, seed=0)
    x = torch.rand(1, 3, 16, 16)
    assert all(torch.equal(p, q) for p, q in zip(a(x), b(x)))
    g = gram(a(x)[0])
    assert torch.allclose(g, g.transpose(1, 2))


def test_bad_style_options_are_refused():
    content, style = _images()
    assert set(STYLIZERS.names()) == {"gram", "quilt"}
    with pytest.raises(InputError, match="larger than the 48x48 style"):
        texture_transfer(content, style, block=64, passes=1)
    with pytest.raises(InputError, match="alpha must be in"):
        texture_transfer(content, style, alpha=2)
    with pytest.raises(InputError, match="below 4 pixels"):
        texture_transfer(content, style, block=8, passes=3)
    with pytest.raises(InputError, match="unknown"):
        stylize(content, style, method_name="vgg")


def test_stylize_command(tmp_path, capsys):
    from imsynth.image import read_image, save_image
    from tests.helpers import assert_one_line_error, run_cli

    content, style = _images()
    save_image(tmp_path / "c.png", content)
    save_image(tmp_path / "s.png", style)
    args = [str(tmp_path / "c.png"), str(tmp_path / "s.png")]
    code, out, err = run_cli(
        capsys, "stylize", *args, "-o", str(tmp_path / "q.png"), "--method", "quilt", "--block", "16"
    )
    assert code == 0, err
    assert read_image(tmp_path / "q.png")[0].shape == content.shape and '"seconds"' in out
    code, _, err = run_cli(capsys, "stylize", *args, "-o", str(tmp_path / "g.png"), "--steps", "2", "--width", "4")
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "stylize", *args, "-o", str(tmp_path / "x.png"), "--method", "quilt", "--strength", "3"
    )
    assert_one_line_error(code, err, "strength")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    code, _, err = run_cli(capsys, "stylize", args[0], str(tmp_path / "bad.png"), "-o", str(tmp_path / "y.png"))
    assert_one_line_error(code, err, "bad.png")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_a_grey_style_stored_as_rgb_gives_a_grey_rgb_result():
    content, style = _images()
    grey_style = np.repeat(style.mean(axis=2, keepdims=True), 3, axis=2)
    result, _ = stylize(content, grey_style, method_name="gram", steps=5, width=8, scales=2, device="cpu")
    assert result.shape == content.shape
    assert np.array_equal(result[:, :, 0], result[:, :, 1]) and np.array_equal(result[:, :, 0], result[:, :, 2])
