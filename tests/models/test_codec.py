"""Learned codecs: the decoder reads exactly the symbols the encoder wrote, for every image size and channel
count, and the payload is as long as the model's rate estimate."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from imsynth.errors import CheckpointError, InputError
from imsynth.models import build_model, fit_config_to_data, get_entry
from imsynth.runtime.coding import Checksum, SymbolReader, SymbolWriter

CODECS = ["factorized", "hyperprior", "vae"]


class RecordingWriter(SymbolWriter):
    def __init__(self):
        super().__init__()
        self.symbols = []

    def categorical(self, symbols, probabilities):
        self.symbols.append(np.asarray(symbols).reshape(-1).copy())
        super().categorical(symbols, probabilities)

    def gaussian(self, symbols, indices):
        self.symbols.append(np.asarray(symbols).reshape(-1).copy())
        super().gaussian(symbols, indices)


class RecordingReader(SymbolReader):
    def __init__(self, payload):
        super().__init__(payload)
        self.symbols = []

    def categorical(self, count, probabilities):
        self.symbols.append(super().categorical(count, probabilities))
        return self.symbols[-1]

    def gaussian(self, indices):
        self.symbols.append(super().gaussian(indices))
        return self.symbols[-1]


def tiny_codec(name, channels, seed=0, image_size=8):
    torch.manual_seed(seed)
    entry = get_entry(name)
    config = dataclasses.replace(entry.default_config(), **entry.tiny)
    config = fit_config_to_data(config, channels=channels, image_size=image_size, num_classes=0, dataset_size=10)
    model = build_model(name, config).eval()
    with torch.no_grad():  # move the untrained density and gains off their symmetric start
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model


@pytest.mark.parametrize("name", CODECS)
def test_random_sizes_decode_exactly_the_encoded_symbols(name):
    rng = np.random.default_rng(0)
    sizes = [(1, 1), (130, 70), (70, 130)] + [tuple(rng.integers(1, 131, 2)) for _ in range(5)]
    for channels in (1, 3):
        model = tiny_codec(name, channels)
        for index, (height, width) in enumerate(sizes):
            image = (
                torch.rand(1, channels, int(height), int(width), generator=torch.Generator().manual_seed(index)) * 2 - 1
            )
            quality = 1 + index % model.qualities
            writer, check = RecordingWriter(), Checksum()
            model.compress(image, quality, writer, check)
            reader, again = RecordingReader(writer.finish()), Checksum()
            decoded = model.decompress(reader, (channels, int(height), int(width)), quality, again)
            reader.finish()
            assert len(writer.symbols) == len(reader.symbols)
            for written, read in zip(writer.symbols, reader.symbols):
                assert np.array_equal(written, read), (name, height, width)
            assert check.value == again.value
            reconstruction, _ = model.code(image, quality)  # the forward pass decodes to the same image
            assert decoded.shape == image.shape and torch.equal(decoded, reconstruction)


@pytest.mark.parametrize("name", CODECS)
def test_payload_equals_the_rate_estimate(name):
    model = tiny_codec(name, 3)
    image = torch.rand(1, 3, 96, 80, generator=torch.Generator().manual_seed(3)) * 2 - 1
    for quality in (1, model.qualities):
        writer = SymbolWriter()
        estimate = model.compress(image, quality, writer, Checksum())
        bits = 8 * len(writer.finish())
        # ANS ends on whole 32-bit words and keeps its final state (up to 64 bits)
        assert estimate - 1 <= bits <= 1.01 * estimate + 64, (quality, estimate, bits)


def test_higher_quality_spends_more_bits():
    model = tiny_codec("factorized", 1)
    with torch.no_grad():  # gains that actually grow with quality, as training makes them
        model.log_gain.copy_(torch.linspace(-2, 2, model.qualities)[:, None].expand_as(model.log_gain))
        model.log_inverse_gain.copy_(-model.log_gain)
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    low, high = model.code(image, 1), model.code(image, model.qualities)
    assert float(low[1]) < float(high[1])


def test_quality_out_of_range_is_refused():
    model = tiny_codec("hyperprior", 1)
    with pytest.raises(InputError, match=f"quality must be in 1..{model.qualities}"):
        model.code(torch.zeros(1, 1, 8, 8), model.qualities + 1)
    vae = tiny_codec("vae", 1)
    with pytest.raises(InputError, match="quality must be in 1..6"):
        vae.compress(torch.zeros(1, 1, 8, 8), 0, SymbolWriter(), Checksum())


def test_training_loss_trades_rate_for_distortion():
    model = tiny_codec("hyperprior", 1).train()
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    output = model.loss(images, uniform=lambda shape: torch.full(shape, 0.5))
    assert torch.isfinite(output.loss) and output.parts["bpp"] > 0 and 0 < output.parts["mse"] < 1
    output.loss.backward()
    assert model.log_gain.grad is not None and model.density.matrices[0].grad is not None


def test_prior_samples_have_the_model_size_and_range():
    model = tiny_codec("hyperprior", 3)
    samples = model.generate(2, seed=1)
    assert samples.shape == (2, 3, 8, 8) and samples.min() >= -1 and samples.max() <= 1
    assert torch.equal(samples, model.generate(2, seed=1))


@pytest.mark.parametrize("name", ["factorized", "hyperprior"])
def test_a_codec_retargeted_to_lower_lambdas_keeps_its_qualities_and_codes_the_new_one_in_fewer_bits(name):
    trained = tiny_codec(name, 1)
    with torch.no_grad():  # gains that grow with quality, as training makes them
        trained.log_gain.copy_(torch.linspace(1, 3, trained.qualities)[:, None].expand_as(trained.log_gain))
        trained.log_inverse_gain.copy_(-trained.log_gain)
    before = list(trained.config.lambdas)
    config = dataclasses.replace(trained.config, lambdas=[before[0] / 16, *before])
    retargeted = build_model(name, config).eval()
    retargeted.start_from(name, trained.state_dict(), "run/model.safetensors", {"lambdas": before})
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for quality in range(1, trained.qualities + 1):  # the old qualities, one place up, code as before
        assert torch.equal(retargeted.code(image, quality + 1)[0], trained.code(image, quality)[0])
    # the new lowest quality starts at gains a quarter of the old lowest's (half the log of 1/16)
    assert torch.allclose(retargeted.log_gain[0], trained.log_gain[0] - 0.5 * math.log(16))
    assert float(retargeted.code(image, 1)[1]) < float(trained.code(image, 1)[1])
    with pytest.raises(CheckpointError, match="one row per lambda"):
        retargeted.start_from(name, trained.state_dict(), "run/model.safetensors", {"lambdas": before[:1]})
