"""The KL term of every VAE (images and text) and the known remedies for posterior collapse, written once.

- ``kl_weight``: the KL's weight at a step: 1 (``none``), a ``linear`` warm-up from 0 (Bowman et al. 2016), or
  ``cyclical`` (Fu et al. 2019): four cycles over the warm-up, each ramping over its first half, then 1.
- ``free_bits_kl``: the KL of a batch with each dimension's batch mean counted as at least ``floor`` nats
  (Kingma et al. 2016), so the objective no longer pushes a dimension below the floor.
- ``collapse_advice``: the message for the engine's log when, after warm-up, the code carries almost nothing.
"""

from __future__ import annotations

import torch

ANNEALING = ("none", "linear", "cyclical")
COLLAPSED_KL = 0.1  # nats per example: below this after warm-up the decoder ignores the code


def kl_weight(step: int, warmup: int, anneal: str = "linear") -> float:
    if anneal == "none" or warmup <= 0 or step >= warmup:
        return 1.0
    if anneal == "linear":
        return step / warmup
    period = warmup / 4
    return min(1.0, (step % period) / (period / 2))


def free_bits_kl(kl: torch.Tensor, floor: float) -> torch.Tensor:
    """Per-dimension KL (B, D) -> the objective's KL per example (a scalar)."""
    if floor > 0:
        return kl.mean(0).clamp(min=floor).sum()
    return kl.sum(1).mean()


def collapse_advice(kl: float, step: int, warmup: int, remedies: str) -> str | None:
    if step > warmup + 100 and kl < COLLAPSED_KL:
        return (
            f"posterior collapse: KL {kl:.3f} nats after warm-up; the decoder ignores the code "
            f"(remedies: --set {remedies})"
        )
    return None
