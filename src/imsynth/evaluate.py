"""``evaluate_run``: every metric that applies to a trained run, as one JSON-able dict."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from .data import load_dataset, to_model
from .errors import InputError
from .metrics.features import extract_features, load_feature_net
from .metrics.generative import compare_features
from .models import GenerativeModel
from .train import load_run


@torch.no_grad()
def generate(model, count: int, *, seed: int = 0, labels: torch.Tensor | None = None, batch_size: int | None = None,
             sampling: dict | None = None) -> torch.Tensor:
    """``count`` samples (NCHW [-1, 1], on the CPU); conditional models cycle through the classes.

    ``sampling`` passes sampler options (``sampler``, ``steps``, ``eta``, ``guidance``) to diffusion models.
    A progress bar shows on a terminal for models that sample slowly (diffusion)."""
    if count < 1:
        raise InputError(f"need at least one sample, got -n {count}")
    sampling = {k: v for k, v in (sampling or {}).items() if v is not None}
    slow = hasattr(model, "run_sampler")
    if sampling and not slow:
        raise InputError(f"--{'/--'.join(sampling)} apply to diffusion runs; model {model.registered_name!r} "
                         "samples in one pass")
    batch_size = batch_size or getattr(model, "sample_batch_size", 500)
    generator = torch.Generator().manual_seed(seed)
    if labels is None and model.conditional:
        labels = torch.arange(count) % model.config.num_classes
    from tqdm import tqdm

    chunks = []
    with tqdm(total=count, desc="sampling", unit="img", disable=not (slow and sys.stderr.isatty())) as bar:
        for start in range(0, count, batch_size):
            part = None if labels is None else labels[start:start + batch_size]
            size = min(batch_size, count - start)
            chunks.append(model.sample(size, labels=part, generator=generator, **sampling).float().cpu())
            bar.update(size)
    return torch.cat(chunks)


def evaluate_run(run: str | Path, *, data: str | None = None, n: int = 5000, importance_samples: int = 500,
                 likelihood_images: int = 1000, feature_net: str | None = None, disentanglement: bool = True,
                 device: str = "auto", seed: int = 0) -> dict:
    """Likelihood (ELBO, IW-NLL), sample quality on in-domain features (FID, KID, precision/recall,
    density/coverage, with the train-vs-test FID floor), and MIG/FactorVAE on ``shapes``."""
    started = time.perf_counter()
    model, saved = load_run(run, device=device)
    data_name = data or saved["data"]["name"]
    dataset = load_dataset(data_name, image_size=model.config.image_size)
    if dataset.channels != model.config.channels:
        raise InputError(f"dataset {data_name!r} has {dataset.channels} channels, the model {model.config.channels}")
    report: dict = {"run": str(run), "model": saved["model"], "step": saved.get("step"), "data": data_name}
    test_images, test_labels = dataset.test_images, dataset.test_labels
    count = min(n, len(test_images))
    device_of_model = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    from tqdm import tqdm

    if type(model).evaluate is not GenerativeModel.evaluate:  # models with a likelihood (not GANs)
        likelihood_set = test_images[:likelihood_images]
        with tqdm(total=len(likelihood_set), desc=f"IW-NLL k={importance_samples}", unit="img",
                  disable=not sys.stderr.isatty()) as bar:
            report["likelihood"] = model.evaluate(
                to_model(likelihood_set).to(device_of_model),
                None if test_labels is None else test_labels[:likelihood_images],
                importance_samples=importance_samples, generator=generator, progress=bar.update)
    try:
        net, info = load_feature_net(dataset.name, feature_net)
    except Exception as error:  # no feature net for this dataset: report why, keep the other metrics
        report["sample_quality"] = {"skipped": str(error)}
    else:
        real = extract_features(net, test_images[:count])
        floor_reference = extract_features(net, dataset.train_images[:count])
        fake = extract_features(net, generate(model, count, seed=seed))
        quality = compare_features(real, fake)
        quality["fid_floor_train_vs_test"] = compare_features(real, floor_reference)["fid"]
        quality.update(n=count, reference="test split", feature_net=info)
        report["sample_quality"] = quality
    if dataset.name == "shapes" and disentanglement and hasattr(model, "encode"):
        from .metrics.disentanglement import factor_vae_score, mutual_information_gap

        report["disentanglement"] = {"mig": mutual_information_gap(model), "factor_vae": factor_vae_score(model)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
