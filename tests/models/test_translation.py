"""pix2pix: learns a paired mapping on the engine, guards against collapse, translates from the CLI."""

import dataclasses

import numpy as np
import pytest
import torch

from imsynth.data import load_dataset
from imsynth.errors import ConfigError, InputError
from imsynth.image import read_image, save_image
from imsynth.metrics.features import load_feature_net
from imsynth.models import build_model, config_for_dataset, get_entry, load_run
from imsynth.models.translation import PatchGAN, patch_layers, receptive_field
from imsynth.train import train
from tests.helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def blur_run(tmp_path_factory):
    data = load_dataset("pairs:digits~blur")
    entry = get_entry("pix2pix")
    config = dataclasses.replace(
        config_for_dataset(entry.default_config(), data), width=8, d_width=8, d_layers=1, g_lr=2e-3, d_lr=2e-3
    )
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=150, batch_size=32, sample_every=1000, checkpoint_every=1000, log_every=10
    )
    out = tmp_path_factory.mktemp("p2p") / "run"
    result = train("pix2pix", data, out, model_config=config, train_config=train_config, quiet=True)
    return out, result, data


def test_pix2pix_learns_the_paired_mapping(blur_run):
    out, result, data = blur_run
    model, _ = load_run(out)
    inputs, targets = model.split(data.test_images[:64].float() / 127.5 - 1)
    with torch.no_grad():
        error = (model.translate(inputs) - targets).abs().mean()
    identity = (inputs - targets).abs().mean()  # leaving the blur in place
    untrained = build_model("pix2pix", model.config).eval()
    with torch.no_grad():
        untrained_error = (untrained.translate(inputs) - targets).abs().mean()
    assert error < 0.5 * untrained_error and error < identity  # measured: 0.33, untrained 0.93, identity 0.55
    assert (out / "samples").is_dir() and any((out / "samples").iterdir())
    assert all(np.isfinite(v) for k, v in result.last_metrics.items() if isinstance(v, float))


def test_collapse_signals():
    model = build_model("pix2pix", dataclasses.replace(get_entry("pix2pix").default_config(), channels=2, image_size=8))
    assert model.health({"output_spread": 0.001, "target_spread": 0.3}) == (
        "collapse: the translations are the same image for every input"
    )
    assert "equal their inputs" in model.health(
        {"output_spread": 0.3, "target_spread": 0.3, "output_vs_input": 0.0, "l1": 0.2}
    )
    assert model.health({"output_spread": 0.2, "target_spread": 0.3, "output_vs_input": 0.1, "l1": 0.2}) is None
    with pytest.raises(InputError, match="a2b only"):
        model.translate(torch.zeros(1, 1, 8, 8), "b2a")


def test_translate_command(blur_run, tmp_path, capsys):
    out, _, data = blur_run
    image = data.test_images[0, 0].numpy().astype(np.float32) / 255
    save_image(tmp_path / "in.png", image)
    save_image(tmp_path / "rgb.png", np.repeat(image[:, :, None], 3, axis=2))
    code, stdout, err = run_cli(
        capsys, "translate", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--model", str(out)
    )
    assert code == 0, err
    assert read_image(tmp_path / "o.png")[0].shape == image.shape
    code, _, err = run_cli(capsys, "translate", str(tmp_path), "-o", str(tmp_path / "all") + "/", "--model", str(out))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["in.png", "o.png", "rgb.png"]
    code, _, err = run_cli(
        capsys,
        "translate",
        str(tmp_path / "in.png"),
        "-o",
        str(tmp_path / "x.png"),
        "--model",
        str(out),
        "--direction",
        "b2a",
    )
    assert_one_line_error(code, err, "in.png", "a2b only")
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory):
    data = load_dataset("unpaired:digits[0],digits[1]")
    entry = get_entry("cyclegan")
    config = dataclasses.replace(
        config_for_dataset(entry.default_config(), data), width=8, blocks=1, d_width=8, d_layers=1, pool_size=8
    )
    train_config = dataclasses.replace(
        entry.default_train_config(), steps=120, batch_size=16, sample_every=1000, checkpoint_every=60, log_every=10
    )
    out = tmp_path_factory.mktemp("cycle") / "run"
    result = train("cyclegan", data, out, model_config=config, train_config=train_config, quiet=True)
    return out, result, data


def test_cyclegan_learns_to_cycle_both_ways(cycle_run):
    out, result, data = cycle_run
    model, _ = load_run(out)
    untrained = build_model("cyclegan", model.config).eval()
    real_a, real_b = model.split(data.test_images[:64].float() / 127.5 - 1)

    @torch.no_grad()
    def cycle_errors(net):
        return [
            float((net.translate(net.translate(real_a, "a2b"), "b2a") - real_a).abs().mean()),
            float((net.translate(net.translate(real_b, "b2a"), "a2b") - real_b).abs().mean()),
        ]

    trained, before = cycle_errors(model), cycle_errors(untrained)
    # measured: 0.22 and 0.25 trained (120 steps), 0.77 and 0.78 untrained
    assert all(e < 0.5 * u for e, u in zip(trained, before, strict=True)), (trained, before)
    with torch.no_grad():
        fives = model.translate(real_a, "a2b")
        ones_as_zeros = model.translate(real_b, "b2a")
    assert fives.shape == real_b.shape and fives.std(dim=0).mean() > 0.05  # not one image for every input
    # the shipped digits classifier sees the class change (an identity translator keeps every class): after 120
    # steps few translated images keep their source class (measured 0-11%; which class they reach varies from run
    # to run at this length, so only leaving the source is asserted)
    classifier = load_feature_net("digits")[0]
    with torch.no_grad():
        assert (classifier(real_a).argmax(1) == 0).all() and (classifier(real_b).argmax(1) == 1).all()
        kept = [
            (classifier(fives).argmax(1) == 0).float().mean(),
            (classifier(ones_as_zeros).argmax(1) == 1).float().mean(),
        ]
    assert max(kept) < 0.4, kept
    assert all(np.isfinite(v) for k, v in result.last_metrics.items() if isinstance(v, float))


def test_cyclegan_pool_lives_in_the_resume_state_only(cycle_run):
    from safetensors.torch import load_file

    from imsynth.runtime import runs

    out, _, _ = cycle_run
    state, _ = runs.load_state(out)
    assert state["training.pool_a"].shape == (8, 1, 8, 8) and state["training.pool_b"].shape == (8, 1, 8, 8)
    assert not any("pool" in key for key in load_file(out / runs.WEIGHTS))


class _Coins:
    """A step context whose uniform draws come from a list (coin, pick, coin, pick, ...)."""

    def __init__(self, values):
        self.values = list(values)

    def uniform(self, shape):
        taken, self.values = self.values[: shape[0]], self.values[shape[0] :]
        return torch.tensor(taken)


def test_image_pool_fills_then_swaps_half_the_time():
    config = dataclasses.replace(get_entry("cyclegan").default_config(), channels=2, image_size=8, pool_size=2)
    model = build_model("cyclegan", dataclasses.replace(config, width=2, blocks=0, d_width=2))
    batch = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    # first batch: two fakes fill the pool and are shown; the third finds it full, coin 0.2 < 0.5: swaps with slot 1
    shown = model._pooled("a", batch, _Coins([0.9, 0.9, 0.2, 0.0, 0.0, 0.7]))
    assert shown[:, 0, 0, 0].tolist() == [0.0, 1.0, 1.0]
    assert model.pools["a"][:, 0, 0, 0].tolist() == [0.0, 2.0]
    # coins >= 0.5: the fakes themselves are shown and the pool is unchanged
    shown = model._pooled("a", batch + 10, _Coins([0.6, 0.6, 0.6, 0.1, 0.1, 0.1]))
    assert shown[:, 0, 0, 0].tolist() == [10.0, 11.0, 12.0] and model.pools["a"][:, 0, 0, 0].tolist() == [0.0, 2.0]
    saved = model.training_state()
    fresh = build_model("cyclegan", model.config)
    fresh.load_training_state(saved)
    assert torch.equal(fresh.pools["a"], model.pools["a"]) and fresh.pools["b"] is None


def test_cyclegan_config_and_collapse_signals():
    entry = get_entry("cyclegan")
    with pytest.raises(ConfigError, match=r"identity loss needs domains with equal channels \(got 1 and 3\)"):
        build_model("cyclegan", dataclasses.replace(entry.default_config(), channels=4, channels_a=1, image_size=8))
    grey_to_colour = dataclasses.replace(
        entry.default_config(), channels=4, channels_a=1, image_size=8, identity_weight=0.0, width=4, blocks=1
    )
    model = build_model("cyclegan", grey_to_colour)
    assert model.translate(torch.zeros(2, 1, 5, 7), "a2b").shape == (2, 3, 5, 7)
    assert model.translate(torch.zeros(1, 3, 1, 1), "b2a").shape == (1, 1, 1, 1)
    with pytest.raises(InputError, match="translates 3-channel images b2a; got 1"):
        model.translate(torch.zeros(1, 1, 8, 8), "b2a")
    healthy = {"output_spread_b": 0.2, "target_spread_b": 0.3, "output_spread_a": 0.2, "target_spread_a": 0.3}
    assert model.health(healthy) is None
    assert model.health({**healthy, "output_spread_a": 0.001}) == (
        "collapse: the b2a translations are the same image for every input"
    )
    assert model.health({**healthy, "output_vs_input_b": 0.0, "g_adv": 0.5}) == (
        "collapse: the a2b translations equal their inputs"
    )


def test_cyclegan_translates_both_ways_from_the_cli(cycle_run, tmp_path, capsys):
    out, _, data = cycle_run
    save_image(tmp_path / "one.png", data.test_images[0, 1].numpy().astype(np.float32) / 255)
    for direction in ("a2b", "b2a"):
        code, stdout, err = run_cli(
            capsys,
            "translate",
            str(tmp_path / "one.png"),
            "-o",
            str(tmp_path / f"{direction}.png"),
            "--model",
            str(out),
            "--direction",
            direction,
        )
        assert code == 0, err
        assert read_image(tmp_path / f"{direction}.png")[0].shape == (8, 8)
    assert not np.array_equal(read_image(tmp_path / "a2b.png")[0], read_image(tmp_path / "b2a.png")[0])


@pytest.mark.parametrize("which", ["pix2pix", "cyclegan"])
def test_sample_draws_a_translation_grid(which, blur_run, cycle_run, tmp_path, capsys):
    out = (blur_run if which == "pix2pix" else cycle_run)[0]
    code, _, err = run_cli(capsys, "sample", str(out), "-n", "12", "-o", str(tmp_path / "grid.png"))
    assert code == 0, err
    grid, _ = read_image(tmp_path / "grid.png")

    def cells(side):  # 8x8 images with 2-pixel gaps and a 2-pixel border, the whole grid drawn 12x larger
        return (side // 12 - 2) // 10

    assert cells(grid.shape[1]) == 3  # three columns: input | output | target or cycle back
    assert cells(grid.shape[0]) == 4  # pix2pix: n/3 rows; cyclegan: n/6 each way
    code, _, err = run_cli(capsys, "sample", str(out), "-n", "12", "-o", str(tmp_path / "s.npz"))
    assert_one_line_error(code, err, "s.npz", "writes a grid")


def test_cyclegan_refuses_unequal_domains_with_the_identity_loss(tmp_path, capsys):
    for index in range(4):
        save_image(tmp_path / "a" / f"{index}.png", np.full((8, 8), index / 4))
        save_image(tmp_path / "b" / f"{index}.png", np.full((8, 8, 3), index / 4))
    data = f"pairs:folder:{tmp_path / 'a'},{tmp_path / 'b'}"
    code, _, err = run_cli(capsys, "train", "cyclegan", "--data", data, "--out", str(tmp_path / "r"), "--steps", "1")
    assert_one_line_error(
        code, err, "identity loss needs domains with equal channels (got 1 and 3)", "identity_weight=0"
    )
    assert not (tmp_path / "r" / "state").exists()


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_the_patch_a_logit_sees_is_the_receptive_field_computed(layers):
    """The default PatchGAN depth rests on ``receptive_field``: it must be the network's real footprint, measured
    as the pixels whose change moves the centre logit."""
    net = PatchGAN(1, 4, layers, torch.nn.Identity).double()
    torch.nn.init.constant_(net.body[0].weight, 1.0)  # no weight may cancel to an exact zero by chance
    pixels = torch.zeros(1, 1, 160, 160, dtype=torch.float64, requires_grad=True)
    logits = net(pixels)
    logits[0, 0, logits.shape[2] // 2, logits.shape[3] // 2].backward()
    rows = torch.nonzero(pixels.grad[0, 0].abs().sum(1)).flatten()
    assert int(rows.max() - rows.min() + 1) == receptive_field(layers)


def test_the_default_patch_covers_a_quarter_of_the_side_as_in_the_paper():
    assert [receptive_field(patch_layers(side)) for side in (28, 64, 256)] == [8, 18, 78]
    data = load_dataset("pairs:digits~blur")  # 8x8 items
    model = build_model("pix2pix", config_for_dataset(get_entry("pix2pix").default_config(), data))
    assert model.d_layers == 1
    with pytest.raises(ConfigError, match="d_norm must be one of batch, instance, none, got 'layer'"):
        dataclasses.replace(model.config, d_norm="layer")


def test_feature_matching_pulls_the_translation_to_the_real_pair_in_the_discriminators_features():
    data = load_dataset("pairs:digits~blur")
    config = dataclasses.replace(
        config_for_dataset(get_entry("pix2pix").default_config(), data), width=4, d_width=4, d_layers=2, fm_weight=10.0
    )
    torch.manual_seed(0)
    model = build_model("pix2pix", config).eval()
    inputs, targets = model.split(data.test_images[:16].float() / 127.5 - 1)
    assert len(model.discriminator.features(torch.cat([inputs, targets], 1))) == 2  # one per layer
    assert float(model._feature_matching(inputs, targets, targets).detach()) == 0.0
    fake = targets.clone().requires_grad_(True)
    shifted = fake + 0.5 * torch.randn_like(targets)
    matching = model._feature_matching(inputs, targets, shifted)
    matching.backward()
    assert float(matching.detach()) > 0 and fake.grad.abs().sum() > 0  # a gradient reaches the translation
    with pytest.raises(ConfigError, match="fm_weight needs the discriminator: gan_weight > 0"):
        dataclasses.replace(config, gan_weight=0.0)
    with pytest.raises(ConfigError, match="fm_weight must be >= 0, got -1.0"):
        dataclasses.replace(config, fm_weight=-1.0)
