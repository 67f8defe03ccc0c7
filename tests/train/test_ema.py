"""The EMA averages batch-norm statistics with the weights they go with, saves them, and resumes them exactly."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from imsynth.runtime import runs as ckpt
from imsynth.train import train
from imsynth.train.step import ExponentialMovingAverage
from tests.helpers import tiny_dataset
from tests.models.test_gan import tiny_gan_config, train_config


def drifting_model_outputs(steps: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear layer whose weight drifts steadily, then batch norm: the raw statistics follow today's weight,
    the averaged weight lags behind it. Returns the averaged model's normalised outputs on the data, (a) with
    the statistics averaged beside the weights and (b) with the raw model's statistics (the old pairing)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1, affine=False))
    data = torch.randn(256, 1) + 1.0
    ema = ExponentialMovingAverage(model, 0.995)
    for step in range(steps):
        with torch.no_grad():
            model[0].weight.fill_(1.0 + 0.01 * step)
        model.train()
        model(data)
        ema.update(model, step)
    averaged = ema.state_dict_for(model)
    old_pairing = {**averaged, "1.running_mean": model[1].running_mean, "1.running_var": model[1].running_var}
    outputs = []
    for state in (averaged, old_pairing):
        copy = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1, affine=False))
        copy.load_state_dict(state)
        outputs.append(copy.eval()(data).detach())
    return outputs[0], outputs[1]


def test_averaged_weights_are_normalised_by_statistics_averaged_beside_them():
    with_averaged, with_raw = drifting_model_outputs()
    # batch norm's job: outputs with mean 0 and deviation 1 on the data. The old pairing misses both by the
    # averaged weight's lag behind the raw one (measured: mean -0.094, deviation 0.916; averaged 0.010, 1.005)
    assert with_raw.mean().abs() > 0.05 and (with_raw.std() - 1).abs() > 0.05
    assert with_averaged.mean().abs() < with_raw.mean().abs() / 4
    assert (with_averaged.std() - 1).abs() < (with_raw.std() - 1).abs() / 4


def test_averaged_statistics_are_swapped_in_for_sampling_and_restored_after():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = ExponentialMovingAverage(model, 0.5)
    model.train()
    model(torch.randn(4, 1, 3, 3) + 3.0)
    ema.update(model, 100)
    raw = model[1].running_mean.clone()
    with ema.applied(model):
        assert torch.allclose(model[1].running_mean, ema.statistics["1.running_mean"])
        assert not torch.allclose(model[1].running_mean, raw)
    assert torch.equal(model[1].running_mean, raw)
    assert "1.num_batches_tracked" not in ema.statistics  # a counter, not an average


def gan_run(tmp_path, name, steps, interrupt_at=None, resume=False):
    data = tiny_dataset()

    def interrupt(step, _):
        if step == interrupt_at:
            raise KeyboardInterrupt

    return train(
        "dcgan",
        data,
        tmp_path / name,
        model_config=None if resume else tiny_gan_config("dcgan", data, d_norm="batch"),
        train_config=train_config(steps=steps, deterministic=True, ema_decay=0.9),
        quiet=True,
        resume=resume,
        callback=interrupt if interrupt_at else None,
    )


def test_a_gan_saves_its_generators_averaged_statistics_and_resumes_them_exactly(tmp_path):
    gan_run(tmp_path, "straight", 10)
    with pytest.raises(KeyboardInterrupt):
        gan_run(tmp_path, "resumed", 10, interrupt_at=6)
    gan_run(tmp_path, "resumed", 10, resume=True)
    straight, resumed = (
        load_file(tmp_path / "straight/model.safetensors"),
        load_file(tmp_path / "resumed/model.safetensors"),
    )
    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name
    state, _ = ckpt.load_state(tmp_path / "straight")
    statistics = [k for k in straight if k.startswith("generator.") and k.endswith(("running_mean", "running_var"))]
    assert statistics
    for name in statistics:
        assert torch.equal(straight[name], state[f"ema.{name}"].to(straight[name].dtype)), name
    assert any(not torch.allclose(straight[k], state[f"model.{k}"]) for k in statistics)
    # the discriminator is not averaged: its statistics are the raw ones
    critic = [k for k in straight if k.startswith("discriminator.") and k.endswith("running_mean")]
    assert critic and all(torch.equal(straight[k], state[f"model.{k}"]) for k in critic)
    assert not any(k.startswith("ema.discriminator") for k in state)


def test_a_run_saved_before_statistics_were_averaged_resumes_starting_them_from_the_raw_model(tmp_path):
    gan_run(tmp_path, "old", 4)
    tensors, meta = ckpt.load_state(tmp_path / "old")
    stripped = {k: v for k, v in tensors.items() if not (k.startswith("ema.") and "running_" in k)}
    assert len(stripped) < len(tensors)
    ckpt.save_state(tmp_path / "old", meta["step"], stripped, {k: v for k, v in meta.items() if k != "tensors_sha256"})
    result = gan_run(tmp_path, "old", 5, resume=True)
    assert result.step == 5
    after, _ = ckpt.load_state(tmp_path / "old")
    name = next(k[4:] for k in after if k.startswith("ema.generator.") and k.endswith("running_var"))
    # one update after restarting from the raw step-4 statistics: between those and the raw step-5 ones
    low = torch.minimum(tensors[f"model.{name}"], after[f"model.{name}"])
    high = torch.maximum(tensors[f"model.{name}"], after[f"model.{name}"])
    assert torch.all(after[f"ema.{name}"] >= low - 1e-6) and torch.all(after[f"ema.{name}"] <= high + 1e-6)
