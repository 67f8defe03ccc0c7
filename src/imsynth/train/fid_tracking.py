"""Best-checkpoint tracking by in-domain FID on a cheap periodic subset.

A GAN's last checkpoint is often worse than an earlier one, so with ``train.fid_every`` set the engine
measures FID every so many steps (fixed latent codes, ``fid_samples`` samples against as many test images,
on the dataset's shipped feature network) and writes ``model.safetensors`` only when FID improves;
``state/`` keeps the last step for resuming. Datasets without a feature network skip tracking with a note.
"""

from __future__ import annotations

import contextlib
import sys

import torch

from ..errors import ImsynthError
from ..metrics.features import extract_features, load_feature_net
from ..metrics.generative import frechet_distance
from ..runtime import runs as ckpt


class FIDTracker:
    def __init__(self, trainer, net, info: dict, real_features: torch.Tensor) -> None:
        self.trainer, self.net, self.info, self.real_features = trainer, net, info, real_features
        self.best: dict | None = None

    @classmethod
    def create(cls, trainer) -> FIDTracker | None:
        dataset = trainer.dataset
        try:
            net, info = load_feature_net(dataset.name)
            if net.channels != dataset.channels:
                raise ImsynthError(f"its feature network expects {net.channels} channels")
        except ImsynthError as error:
            if trainer.group.is_main and not trainer.quiet:
                print(f"imsynth: no FID tracking for {dataset.name}: {error}", file=sys.stderr)
            return None
        count = min(trainer.config.fid_samples, len(dataset.test_images))
        return cls(trainer, net, info, extract_features(net, dataset.test_images[:count]))

    @torch.no_grad()
    def measure(self) -> float | None:
        """FID of the (EMA) model now; writes model.safetensors when it is the best so far (rank 0 only)."""
        trainer = self.trainer
        if not trainer.group.is_main:
            return None
        model = trainer.model
        model.eval()
        with trainer.ema.applied(model) if trainer.ema else contextlib.nullcontext():
            # the same codes every time (seed 4321): less noisy comparisons between steps
            fake = model.generate(len(self.real_features), seed=4321, progress=False)
        model.train()
        if not torch.isfinite(fake).all():
            fid = float("inf")
        else:
            fid = frechet_distance(self.real_features, extract_features(self.net, fake))
        improved = self.best is None or fid < self.best["fid"]
        if improved and fid != float("inf"):
            self.best = {"step": trainer.step, "fid": fid, "n": len(fake), "feature_net": self.info["name"]}
            trainer.write_weights()
        ckpt.append_metrics(
            trainer.run, {"step": trainer.step, "fid": fid, "best_fid": self.best["fid"] if self.best else None}
        )
        return fid
