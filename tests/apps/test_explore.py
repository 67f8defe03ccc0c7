import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.apps.explore import (
    decode,
    direction_codes,
    explore,
    interpolation_codes,
    move_along,
    principal_directions,
    random_walk_codes,
)
from imsynth.errors import InputError
from imsynth.models import load_run
from imsynth.runtime.tensors import tensor_to_uint8
from tests.helpers import assert_one_line_error, run_cli


class LinearLatentModel:
    """First hidden layer = A z with known singular directions, so PCA's answer is known."""

    registered_name, conditional, latent_dim = "linear", False, 6

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.left, _ = torch.linalg.qr(torch.randn(20, 6, generator=generator))
        self.right, _ = torch.linalg.qr(torch.randn(6, 6, generator=generator))
        self.singular = torch.tensor([6.0, 4.0, 2.5, 1.0, 0.5, 0.2])

    def latent_features(self, z, labels=None):
        return ((z @ self.right) * self.singular) @ self.left.T

    def decode_latents(self, z, labels=None):
        return torch.tanh(z[:, :1, None, None].expand(-1, 1, 4, 4))


def test_principal_directions_recover_the_top_singular_directions_of_a_linear_layer():
    model = LinearLatentModel()
    directions = principal_directions(model, components=3, samples=4000)
    for index in range(3):
        cosine = torch.dot(directions.vectors[index], model.right[:, index]).abs()
        assert cosine > 0.99, (index, cosine)
    shares = directions.explained_variance
    assert torch.all(shares[:-1] > shares[1:])
    expected = model.singular[:3] ** 2 / (model.singular**2).sum()
    assert torch.allclose(shares, expected, atol=0.02)
    assert torch.allclose(directions.latent_std, torch.ones(3), atol=0.06)  # unit directions of N(0, I) codes
    codes = direction_codes(model, directions, values=5, span=2.0)
    assert codes.shape == (15, 6)
    steps = codes[:5] - codes[2]
    assert torch.allclose(
        steps / steps.norm(dim=1, keepdim=True).clamp_min(1e-9) * torch.sign(torch.arange(5) - 2)[:, None],
        directions.vectors[0].expand(5, -1) * (torch.arange(5) != 2)[:, None],
        atol=1e-5,
    )


def test_interpolations_start_and_end_at_their_codes_and_walks_keep_their_norm():
    model = LinearLatentModel()
    lerp = interpolation_codes(model, rows=2, steps=5, mode="lerp", seed=3).view(2, 5, 6)
    slerp = interpolation_codes(model, rows=2, steps=5, mode="slerp", seed=3).view(2, 5, 6)
    assert torch.allclose(lerp[:, 0], slerp[:, 0]) and torch.allclose(lerp[:, -1], slerp[:, -1], atol=1e-6)
    assert torch.allclose(lerp[:, 2], (lerp[:, 0] + lerp[:, -1]) / 2, atol=1e-6)
    assert torch.all(slerp[:, 2].norm(dim=1) > lerp[:, 2].norm(dim=1))  # the great circle keeps codes typical
    walk = random_walk_codes(model, 30, rows=3, seed=1)
    norms = walk.norm(dim=2)
    assert walk.shape == (30, 3, 6) and torch.allclose(norms, norms[:1].expand(30, -1), atol=1e-5)
    assert not torch.allclose(walk[0], walk[-1])
    with pytest.raises(InputError, match="at least 2 steps"):
        interpolation_codes(model, rows=1, steps=1)


@pytest.mark.parametrize("mode", ["lerp", "slerp", "walk", "pca"])
def test_explore_grids_for_gan_and_vae_runs(tmp_path, gan_run, vae_run, mode):
    for run in (gan_run, vae_run):
        model, _ = load_run(run, device="cpu")
        out = tmp_path / f"{run.name}-{mode}.png"
        info = explore(model, out, mode=mode, rows=3, steps=5, components=4)
        expected = 4 * 5 if mode == "pca" else 3 * 5
        assert info["images"] == expected
        picture = Image.open(out)
        scale = 96 // 8
        assert picture.size[0] == (5 * 8 + 6 * 2) * scale  # five columns of 8 px images and 2 px gaps, scaled
        if mode == "pca":
            assert len(info["explained_variance"]) == 4


def test_explore_gif_frames_and_cli(tmp_path, capsys, gan_run, cgan_run):
    code, out, err = run_cli(
        capsys,
        "explore",
        str(gan_run),
        "-o",
        str(tmp_path / "walk.gif"),
        "--mode",
        "walk",
        "--frames",
        "12",
        "--device",
        "cpu",
    )
    assert code == 0, err
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 12
    code, _, err = run_cli(
        capsys, "explore", str(cgan_run), "-o", str(tmp_path / "c.png"), "--class", "3", "--device", "cpu"
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "explore", str(gan_run), "-o", str(tmp_path / "x.gif"), "--mode", "pca")
    assert_one_line_error(code, err, "pca directions are shown as a grid")
    code, _, err = run_cli(capsys, "explore", str(gan_run), "-o", str(tmp_path / "x.png"), "--class", "2")
    assert_one_line_error(code, err, "not class-conditional")
    code, _, err = run_cli(capsys, "explore", str(cgan_run), "-o", str(tmp_path / "x.png"), "--class", "10")
    assert_one_line_error(code, err, "class must be in 0..9, got 10")
    code, _, err = run_cli(capsys, "explore", str(gan_run), "-o", str(tmp_path / "x.txt"))
    assert_one_line_error(code, err, "unknown output format (.txt); supported: .png")
    assert np.asarray(Image.open(tmp_path / "c.png")).std() > 0


def test_move_along_is_the_pca_grid_at_one_slider_setting(gan_run):
    """A slider per direction: moving direction 1 by +2 std gives the image the pca grid shows at the end of
    row 1 (same seed), zero amounts give the row's start code unmoved, and too many amounts are refused."""
    model, _ = load_run(gan_run)
    directions = principal_directions(model, components=3, samples=300)
    codes = direction_codes(model, directions, values=5, span=2.0)
    row_end = tensor_to_uint8(decode(model, codes[9:10]))[0]
    moved = move_along(model, directions, [0.0, 2.0])
    assert moved.shape == row_end.shape and moved.dtype == np.uint8
    assert np.abs(moved.astype(int) - row_end.astype(int)).max() <= 1
    start = tensor_to_uint8(decode(model, codes[2:3]))[0]  # row 0 at its middle value: the code unmoved
    assert np.array_equal(move_along(model, directions, [0.0, 0.0, 0.0]), start)
    with pytest.raises(InputError, match="4 amounts for 3 directions"):
        move_along(model, directions, [0, 0, 0, 0])
