import json

import pytest

from imsynth.config import apply_overrides, from_dict, to_dict
from imsynth.errors import ConfigError
from imsynth.models.vae import VAEConfig
from imsynth.train import TrainConfig


def test_configs_round_trip_through_json():
    config = TrainConfig(betas=(0.5, 0.9), steps=10)
    assert from_dict(TrainConfig, json.loads(json.dumps(to_dict(config)))) == config
    assert from_dict(VAEConfig, to_dict(VAEConfig(likelihood="gaussian"))) == VAEConfig(likelihood="gaussian")


def test_overrides_parse_by_field_type():
    configs = apply_overrides(
        {"model": VAEConfig(), "train": TrainConfig()},
        ["beta=4", "train.lr=2e-3", "likelihood=gaussian", "betas=[0.5, 0.99]", "deterministic=true"],
    )
    assert configs["model"].beta == 4.0 and isinstance(configs["model"].beta, float)
    assert configs["train"].lr == 2e-3 and configs["train"].betas == (0.5, 0.99)
    assert configs["train"].deterministic is True


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("nonsense=1", "unknown key; valid:"),
        ("latent_dim=2.5", "expected an integer"),
        ("likelihood=poisson", "not one of 'bernoulli', 'gaussian'"),
        ("train.batch_size=0", "must be >= 1"),
        ("beta", "expected key=value"),
        ("foo.beta=1", "unknown section"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_message(assignment, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides({"model": VAEConfig(), "train": TrainConfig()}, [assignment])


def test_unknown_keys_in_saved_config_are_refused():
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(VAEConfig, {"latent_dim": 3, "colour": "red"})
