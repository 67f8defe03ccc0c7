"""The contract every registered model keeps, run over the whole registry: a model that registers is covered.

Each model trains at its entry's ``tiny`` size under its *default* training settings (precision, memory format,
optimisers, EMA), except the budget and deterministic mode."""

import dataclasses
import functools
import itertools
import math
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from imsynth.config import apply_overrides
from imsynth.errors import ConfigError, InputError
from imsynth.models import (
    MODEL_REGISTRY,
    Codec,
    ContentMotion,
    Encoder,
    Inpainter,
    IterativeSampler,
    LatentFeatures,
    LatentModel,
    LikelihoodModel,
    Representation,
    TextGenerator,
    Translator,
    build_model,
    config_for_dataset,
    get_entry,
    load_run,
)
from imsynth.models.codec import CodecConfig
from imsynth.models.cyclegan import CycleGANConfig
from imsynth.models.diffusion import DiffusionConfig
from imsynth.models.dvae import DVAEConfig
from imsynth.models.gan import GANConfig
from imsynth.models.latent_diffusion import LatentDiffusionConfig
from imsynth.models.mocogan import MoCoGANConfig
from imsynth.models.sequential_vae import DSVAEConfig
from imsynth.models.text import TextConfig
from imsynth.models.translation import TranslationConfig
from imsynth.models.vae import VAEConfig
from imsynth.models.vae_gan import VAEGANConfig
from imsynth.models.video import SVGConfig
from imsynth.models.video_diffusion import VideoDiffusionConfig
from imsynth.runtime import runs
from imsynth.runtime.coding import Checksum, SymbolReader, SymbolWriter
from imsynth.train import train
from tests.helpers import tiny_clips, tiny_dataset, tiny_pairs, tiny_run, tiny_text_dataset

NAMES = MODEL_REGISTRY.names()


def tiny_data(name):
    """The tiny dataset an entry trains on: one domain, two stacked on the channel axis (data="pairs"), or token
    rows of a tiny grammar (data="text")."""
    if get_entry(name).data == "text":
        return tiny_text_dataset(48)
    if get_entry(name).data == "clips":
        return tiny_clips(48, frames=6)
    if get_entry(name).data == "pairs":
        return tiny_pairs(48)
    return tiny_dataset(count=48, size=8, classes=4)


@functools.cache
def tiny_autoencoder() -> str:
    """A tiny vae run on the contract's images, for the families that declare an ``autoencoder`` field."""
    root = Path(tempfile.mkdtemp(prefix="imsynth-contract-"))
    return str(tiny_run(root, "vae", steps=4, data=tiny_dataset(count=48, size=8, classes=4), latent_dim=4))


def tiny_config(name, data):
    entry = get_entry(name)
    config = dataclasses.replace(config_for_dataset(entry.default_config(), data), **entry.tiny)
    if "autoencoder" in {field.name for field in dataclasses.fields(config)}:
        config = dataclasses.replace(config, autoencoder=tiny_autoencoder())
    return config


def tiny_train(name, steps):
    return dataclasses.replace(
        get_entry(name).default_train_config(),
        steps=steps,
        batch_size=8,
        fid_every=0,
        log_every=1,
        sample_every=1000,
        checkpoint_every=1000,
        num_samples=4,
        deterministic=True,
    )


def test_the_registry_holds_every_family():
    assert len(NAMES) >= 9 and len(set(NAMES)) == len(NAMES)
    for name in NAMES:
        entry = get_entry(name)
        assert entry.description and entry.tiny, name


@pytest.mark.parametrize("name", NAMES)
def test_registered_model_keeps_the_contract(name, tmp_path):
    data = tiny_data(name)
    config = tiny_config(name, data)
    train_defaults = get_entry(name).default_train_config()

    # two engine steps with the default precision and memory format: finite logged values
    straight = train(
        name, data, tmp_path / "straight", model_config=config, train_config=tiny_train(name, 4), quiet=True
    )
    assert straight.step == 4
    assert all(torch.isfinite(torch.tensor(v)) for k, v in straight.last_metrics.items() if k != "time"), (
        straight.last_metrics
    )

    # exact resume under the defaults: killed after the checkpoint at step 2 of 4, resumed, equals 4 straight
    # (weights, EMA, optimiser moments; the learning-rate schedule needs the same budget, so the kill is mid-run)
    def kill(step, _):
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            name,
            data,
            tmp_path / "resumed",
            model_config=config,
            train_config=dataclasses.replace(tiny_train(name, 4), checkpoint_every=2),
            quiet=True,
            callback=kill,
        )
    train(
        name,
        data,
        tmp_path / "resumed",
        train_config=dataclasses.replace(train_defaults, steps=4),
        resume=True,
        quiet=True,
    )
    state_a, _ = runs.load_state(tmp_path / "straight")
    state_b, _ = runs.load_state(tmp_path / "resumed")
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        if not key.startswith("rng."):
            assert torch.equal(state_a[key], state_b[key]), (name, key)

    # save -> load round trip: the loaded model holds exactly the written weights
    model, saved = load_run(tmp_path / "straight")
    written = load_file(tmp_path / "straight" / runs.WEIGHTS)
    for key, value in model.state_dict().items():
        assert torch.equal(value, written[key].to(value.dtype)), key
    assert saved["model"] == name and model.registered_name == name

    # text models: sentences instead of images, reproducible by seed; measures on the test rows
    if isinstance(model, TextGenerator):
        assert model.tokenizer is not None
        first = model.sample_tokens(3, generator=torch.Generator().manual_seed(5))
        assert first == model.sample_tokens(3, generator=torch.Generator().manual_seed(5)) and len(first) == 3
        assert all(0 <= i < config.vocab_size and len(row) <= config.max_length - 2 for row in first for i in row)
        report = model.text_measures(data.test_images.long(), importance_samples=4)
        assert math.isfinite(report["nll"]) and report["perplexity"] >= 1
        with pytest.raises(InputError, match="makes text"):
            model.generate(2)
        return
    # samples of the right shape and range, reproducible by seed (translation models: translations instead)
    shape = (config.channels, config.image_size, config.image_size)
    if model.modality == "clips":  # video: predictions, swaps and (where declared) clips from nothing
        clips = data.to_batch(data.test_images[:3])
        declared = type(model).capabilities
        if "predictor" in declared:
            future = model.predict(clips[:, :2], 3, generator=torch.Generator().manual_seed(1))
            assert future.shape == (3, 3, *shape) and future.abs().max() <= 1
            with pytest.raises(InputError, match="works on clips"):
                model.predict(clips[:, 0], 3)
            with pytest.raises(InputError, match="--frames must be at least 1, got 0"):
                model.predict(clips[:, :2], 0)
        else:
            with pytest.raises(InputError, match="does not predict from context frames"):
                model.predict(clips[:, :2], 3)
        if "sample" in declared:
            made = model.generate(2, seed=5)
            assert made.shape == (2, config.frames, *shape) and torch.equal(made, model.generate(2, seed=5))
        else:
            with pytest.raises(InputError, match="imsynth predict"):
                model.generate(2)
        if isinstance(model, ContentMotion):
            assert model.swap(clips[:1], clips[1:3]).shape == (2, clips.shape[1], *shape)
        previews, columns = model.preview(data, 2)
        assert columns == clips.shape[1] and previews.shape == (2 * columns, *shape)
        return
    if isinstance(model, Translator):
        inputs = torch.rand(3, config.input_channels, 8, 8) * 2 - 1
        translated = model.translate(inputs)
        assert translated.shape == (3, config.output_channels, 8, 8) and torch.isfinite(translated).all()
        assert torch.equal(translated, model.translate(inputs)) and translated.abs().max() <= 1
        previews, columns = model.preview(data, 6)
        assert previews.shape[0] == 6 and columns == 3
        with pytest.raises(InputError, match="translates images"):
            model.generate(2)
        return
    first, again = model.generate(3, seed=5), model.generate(3, seed=5)
    assert first.shape == (3, *shape) and torch.isfinite(first).all()
    assert first.min() >= -1 and first.max() <= 1 and torch.equal(first, again)

    # class labels: refused for an unconditional model, checked for a conditional one
    if model.conditional:
        assert model.class_labels(8).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
        assert model.class_labels(8, layout="rows").tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
        with pytest.raises(InputError, match="class must be in 0..3"):
            model.generate(2, labels=torch.tensor([0, 4]))
        unlabelled = dataclasses.replace(config, num_classes=0)
        with pytest.raises(ConfigError, match="needs a dataset with labels"):
            build_model(name, unlabelled)
    else:
        assert model.class_labels(8) is None
        with pytest.raises(InputError, match="not class-conditional"):
            model.generate(2, labels=torch.tensor([0, 1]))

    # every declared capability, exercised once
    images = first[:2]
    labels = model.class_labels(2)
    declared = {
        protocol.__name__
        for protocol in (
            LatentModel,
            LatentFeatures,
            Encoder,
            Representation,
            Inpainter,
            LikelihoodModel,
            IterativeSampler,
            Codec,
        )
        if isinstance(model, protocol)
    }
    assert declared, name
    if isinstance(model, LatentModel):
        codes = torch.randn(2, model.latent_dim, generator=torch.Generator().manual_seed(0))
        assert model.decode_latents(codes, labels).shape == (2, *shape)
    if isinstance(model, LatentFeatures):
        assert model.latent_features(torch.randn(2, model.latent_dim), labels).ndim == 2
    if isinstance(model, Encoder):
        mean, log_var = model.encode(images, labels)
        assert mean.shape == log_var.shape == (2, model.latent_dim)
    if isinstance(model, Representation) and not model.conditional:
        assert model.represent(images).shape[0] == 2
    if isinstance(model, Inpainter):
        hole = torch.zeros(2, 1, *shape[1:], dtype=torch.bool)
        hole[..., 2:5, 2:5] = True
        filled = model.inpaint(images, hole, labels=labels, steps=3, jump_length=1, resamplings=1)
        assert torch.equal(filled[~hole.expand_as(filled)], images[~hole.expand_as(images)])
    if isinstance(model, LikelihoodModel):
        report = model.likelihood(images, labels, importance_samples=4)
        assert report["iw_nll"] <= -report["elbo"] + 1e-3
    if isinstance(model, Codec) and not model.conditional:
        reconstruction, bits = model.code(images[:1], 1)
        writer, check = SymbolWriter(), Checksum()
        estimate = model.compress(images[:1], 1, writer, check)
        reader, again = SymbolReader(writer.finish()), Checksum()
        decoded = model.decompress(reader, shape, 1, again)
        assert torch.equal(decoded, reconstruction) and check.value == again.value
        assert bits.shape == (1,) and float(bits[0]) == pytest.approx(estimate)
    if isinstance(model, IterativeSampler):
        assert model.generate(1, sampling={"steps": 2}).shape == (1, *shape)
    else:
        with pytest.raises(InputError, match="apply to diffusion runs"):
            model.generate(1, sampling={"steps": 2})


# Fields whose valid values depend on each other, per config class: valid together, and given in any order.
# A new model family fails test_every_family_declares_interdependent_fields until it adds its own.
INTERDEPENDENT = {
    VAEConfig: ["capacity_max=25.0", "total_correlation=false", "beta=2.0"],
    DVAEConfig: ["corruptions=rain,lighting", "severities=2-4", "clean_fraction=0.5"],
    GANConfig: ["loss=wasserstein", "gp_weight=10.0", "d_norm=none"],
    DiffusionConfig: ["timesteps=2000", "sample_steps=1500", "width=12", "heads=3"],
    CodecConfig: ["levels=3", "hyper_levels=2", "lambdas=[0.01, 0.02]"],
    TranslationConfig: ["gan_weight=0.0", "l1_weight=10.0", "channels_a=1"],
    TextConfig: ["latent_dim=0", "decoder=transformer", "embed_dim=12", "heads=3"],
    CycleGANConfig: ["identity_weight=0.0", "channels_a=1", "pool_size=0"],
    SVGConfig: ["frames=6", "context=3", "latent_dim=0"],
    DSVAEConfig: ["frames=6", "content_dim=4", "motion_dim=2"],
    VideoDiffusionConfig: ["frames=6", "past=2", "block=3"],
    MoCoGANConfig: ["frames=6", "loss=wasserstein", "gp_weight=10.0"],
    LatentDiffusionConfig: ["timesteps=2000", "sample_steps=1500", "hidden=64"],
    VAEGANConfig: ["latent_channels=2", "adversarial_weight=0.0", "beta=2.0"],
}


def test_every_family_declares_interdependent_fields():
    assert {get_entry(name).model_class.config_class for name in NAMES} <= set(INTERDEPENDENT)


@pytest.mark.parametrize("name", NAMES)
def test_set_accepts_interdependent_fields_in_every_order(name):
    entry = get_entry(name)
    assignments = INTERDEPENDENT[entry.model_class.config_class]
    results = []
    for order in itertools.permutations(assignments):
        configs = apply_overrides({"model": entry.default_config(), "train": entry.default_train_config()}, list(order))
        results.append(configs["model"])
    assert all(result == results[0] for result in results)
    for assignment in assignments:
        field, value = assignment.split("=")
        assert str(getattr(results[0], field)).lower() == value


def test_set_keeps_the_string_none_and_refuses_unknown_table_names():
    entry = get_entry("dcgan")
    configs = apply_overrides(
        {"model": entry.default_config(), "train": entry.default_train_config()},
        ["d_norm=none", "loss=hinge", "train.steps=none"],
    )
    assert configs["model"].d_norm == "none" and configs["train"].steps is None
    with pytest.raises(ConfigError, match="'softmax' is not one of 'non-saturating'"):
        apply_overrides({"model": entry.default_config()}, ["loss=softmax"])
    with pytest.raises(ConfigError, match="needs a Lipschitz constraint"):
        apply_overrides({"model": entry.default_config()}, ["loss=wasserstein", "d_norm=none"])
    with pytest.raises(ConfigError, match="finite number"):
        apply_overrides({"train": entry.default_train_config()}, ["train.lr=NaN"])


@pytest.mark.parametrize("name", NAMES)
def test_declared_capabilities_are_the_protocols_the_model_keeps(name):
    """A family's ``capabilities`` (read by the actions and the studio without loading a run) hold: every declared
    Protocol is kept by a built model, and every Protocol it keeps is declared."""
    from imsynth.models import build_model, capabilities

    data = tiny_data(name)
    model = build_model(name, tiny_config(name, data))
    declared = type(model).capabilities
    assert declared and declared <= set(capabilities.CAPABILITIES), declared
    for capability, protocol in capabilities.CAPABILITIES.items():
        if protocol is not None:
            assert isinstance(model, getattr(capabilities, protocol)) == (capability in declared), (name, capability)
    assert ("image" in declared) == (model.modality == "images")
