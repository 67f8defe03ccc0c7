"""The KL term every VAE shares (imsynth.models.kl): schedules, free bits, the collapse message."""

import pytest
import torch

from imsynth.models.kl import collapse_advice, free_bits_kl, kl_weight


def test_the_free_bits_objective_never_counts_less_than_the_floor():
    kl = torch.tensor([[0.0, 0.1, 1.0, 0.3], [0.0, 0.3, 1.0, 0.1]])  # batch means 0, 0.2, 1, 0.2
    assert free_bits_kl(kl, 0.25).item() == pytest.approx(0.25 + 0.25 + 1.0 + 0.25)
    assert free_bits_kl(kl, 0.0).item() == pytest.approx(1.4)


def test_kl_schedules():
    steps = (0, 50, 100, 150, 200, 399, 400, 1000)
    assert [kl_weight(s, 400, "none") for s in steps] == [1.0] * 8
    assert [kl_weight(s, 400, "linear") for s in steps] == [0.0, 0.125, 0.25, 0.375, 0.5, 0.9975, 1.0, 1.0]
    # four cycles of 100 steps: a ramp over the first 50, then 1
    assert [kl_weight(s, 400, "cyclical") for s in steps] == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert kl_weight(25, 400, "cyclical") == 0.5 and kl_weight(125, 400, "cyclical") == 0.5
    assert kl_weight(0, 0, "linear") == 1.0  # no warm-up


def test_collapse_advice_only_after_warm_up():
    assert collapse_advice(0.01, 50, 0, "free_bits=0.25") is None  # too early to judge
    assert collapse_advice(0.01, 2100, 2000, "free_bits=0.25") is None  # warm-up + 100 not passed yet
    message = collapse_advice(0.01, 2101, 2000, "free_bits=0.25")
    assert message.startswith("posterior collapse: KL 0.010 nats") and message.endswith(
        "(remedies: --set free_bits=0.25)"
    )
    assert collapse_advice(0.5, 5000, 0, "x") is None
