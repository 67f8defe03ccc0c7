import json

import pytest

from imsynth.config import apply_overrides
from imsynth.errors import InputError
from imsynth.models import MODEL_REGISTRY, PRESETS, get_entry, get_preset, presets_for
from tests.helpers import assert_one_line_error, run_cli


@pytest.mark.parametrize("preset", list(PRESETS), ids=lambda p: p.name)
def test_every_preset_is_a_valid_config_of_a_registered_model(preset):
    assert preset.model in MODEL_REGISTRY and preset.budget and preset.description
    entry = get_entry(preset.model)
    configs = apply_overrides(
        {"model": entry.default_config(), "train": entry.default_train_config()}, list(preset.settings)
    )
    changed = {k.split("=")[0] for k in preset.settings}
    defaults = {"model": entry.default_config(), "train": entry.default_train_config()}
    for key in changed:  # every setting changes something: a preset equal to the defaults would say nothing
        section, _, name = key.rpartition(".")
        part = "train" if section == "train" else "model"
        assert getattr(configs[part], name) != getattr(defaults[part], name), key


def test_presets_are_looked_up_by_model_and_budget():
    assert [p.budget for p in presets_for("vae")] == ["cpu-30min", "latent-cpu-30min"]
    assert get_preset("vae", "cpu-30min").model == "vae"
    with pytest.raises(InputError, match="model vae has no preset 'gpu'; its presets: cpu-30min, latent-cpu-30min"):
        get_preset("vae", "gpu")
    with pytest.raises(InputError, match="model wgan-gp has no preset 'cpu-30min'; its presets: none yet"):
        get_preset("wgan-gp", "cpu-30min")


def test_train_applies_a_preset_before_config_and_set_and_models_lists_it(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "--preset cpu-30min: train.lr=1.4e-3" in out
    config = tmp_path / "best.json"
    config.write_text(json.dumps({"model": "vae", "set": ["latent_dim=12"]}))
    code, out, err = run_cli(
        capsys, "train", "vae", "--out", str(tmp_path / "r"), "--preset", "cpu-30min", "--config", str(config),
        "--set", "width=16", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    resolved = json.loads(out)
    assert resolved["train"]["lr"] == 1.4e-3 and resolved["train"]["batch_size"] == 32  # the preset
    assert resolved["model_config"]["latent_dim"] == 12  # the config file over the preset
    assert resolved["model_config"]["width"] == 16  # --set over both
    code, _, err = run_cli(capsys, "train", "vae", "--out", str(tmp_path / "r"), "--preset", "fast", "--dry-run")
    assert_one_line_error(code, err, "--preset: 'fast' is not one of", "cond-cpu-30min", "latent-cpu-30min")
    code, _, err = run_cli(
        capsys, "train", "wgan-gp", "--out", str(tmp_path / "r"), "--preset", "cpu-30min", "--dry-run"
    )
    assert_one_line_error(code, err, "model wgan-gp has no preset 'cpu-30min'")  # another model has it


def test_a_budget_preset_carries_its_budget_and_one_on_the_command_line_replaces_it(tmp_path, capsys):
    # the latent family's two stages are each a preset, so the documented pipeline is two commands with no numbers
    def budget(*options):
        code, out, err = run_cli(capsys, "train", "vae-gan", "--out", str(tmp_path / "r"), *options, "--dry-run")
        assert code == 0, err
        train = json.loads(out)["train"]
        return train["steps"], train["minutes"]

    assert budget("--preset", "cpu-3h") == (11000, None)  # steps, so a rerun of the command is bit for bit
    assert budget("--preset", "cpu-30min") == (3700, None)
    # a budget of the other kind replaces the preset's rather than racing it (the run would stop at the first)
    assert budget("--preset", "cpu-3h", "--minutes", "2") == (None, 2)
    assert budget("--preset", "cpu-30min", "--minutes", "15") == (None, 15)
    assert budget("--preset", "cpu-3h", "--steps", "40") == (40, None)
    assert budget("--preset", "cpu-3h", "--set", "train.minutes=2") == (None, 2)  # given by --set, the same
    config = tmp_path / "tuned.json"  # and a config file's budget sits between the preset's and the command line's
    config.write_text(json.dumps({"model": "vae-gan", "set": ["train.minutes=7"]}))
    assert budget("--preset", "cpu-3h", "--config", str(config)) == (None, 7)
    assert budget("--preset", "cpu-3h", "--config", str(config), "--steps", "40") == (40, None)
