"""``evaluate_run``: every metric that applies to a trained run, as one JSON-able dict.

What is measured follows the model's declared capabilities: a ``LikelihoodModel`` reports ELBO / IW-NLL, a
``Codec`` its rate-distortion curve, every model sample quality on the dataset's in-domain features, an
``Encoder`` on data with known factors the disentanglement scores, a video ``Predictor`` its prediction
SSIM/PSNR against copying the last frame, and, with locally present Inception weights, the standard Inception FID.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from .data import load_dataset
from .data.text import bits_per_character
from .errors import ImsynthError, InputError
from .metrics.disentanglement import factor_vae_score, mutual_information_gap
from .metrics.features import extract_features, load_feature_net
from .metrics.generative import compare_features
from .metrics.inception import check_inception, inception_fid
from .metrics.video import prediction_report
from .models import (
    Autoencoded,
    Codec,
    Encoder,
    IterativeSampler,
    LikelihoodModel,
    Predictor,
    TextGenerator,
    load_run,
    sampling_config,
)
from .runtime.classifier import SECOND
from .runtime.tensors import to_model


@torch.no_grad()
def codec_curve(model: Codec, images: torch.Tensor, device: torch.device, batch: int = 50) -> list[dict]:
    """Per quality: the forward pass's estimated bits per pixel and PSNR (dB, [0, 1] scale) on uint8 ``images``
    (``imsynth compress`` files add the header and at most a few words to the estimate)."""
    curve = []
    pixels = images.shape[-2] * images.shape[-1]
    for quality in range(1, model.qualities + 1):
        bits, psnr = [], []
        for start in range(0, len(images), batch):
            part = to_model(images[start : start + batch]).to(device)
            decoded, estimate = model.code(part, quality)
            mse = ((decoded.float() - part.float()) / 2).pow(2).mean((1, 2, 3)).clamp_min(1e-10)
            bits.append(estimate.float().cpu())
            psnr.append((10 * torch.log10(1 / mse)).cpu())
        curve.append(
            {
                "quality": quality,
                "bpp_estimate": round(float(torch.cat(bits).mean()) / pixels, 4),
                "psnr": round(float(torch.cat(psnr).mean()), 3),
            }
        )
    return curve


def evaluate_run(
    run: str | Path,
    *,
    data: str | None = None,
    n: int = 5000,
    sampler: str | None = None,
    steps: int | None = None,
    importance_samples: int = 500,
    likelihood_images: int = 1000,
    feature_net: str | None = None,
    disentanglement: bool = True,
    inception: str | Path | None = None,
    device: str = "auto",
    seed: int = 0,
) -> dict:
    """Likelihood (ELBO, IW-NLL), sample quality on in-domain features (FID, KID, precision/recall,
    density/coverage, with the train-vs-test FID floor), MIG/FactorVAE on ``shapes``, and Inception FID from the
    weights file ``inception`` where given. ``sampler`` and ``steps`` choose how a diffusion run samples."""
    if n < 2 or importance_samples < 1 or likelihood_images < 1:
        raise InputError("--n must be >= 2, --k and --likelihood-images >= 1")
    if inception is not None:
        check_inception(inception)
    started = time.perf_counter()
    model, saved = load_run(run, device=device)
    model.config = sampling_config(model, sampler, steps)  # a model loaded for this evaluation only
    if isinstance(model, TextGenerator):
        return evaluate_text(model, saved, run, data, importance_samples, likelihood_images, started)
    if "clips" in type(model).capabilities:
        return evaluate_clips(model, saved, run, data, n, seed, started)
    data_name = data or saved["data"]["name"]
    dataset = load_dataset(data_name, image_size=model.config.image_size)
    if dataset.channels != model.config.channels:
        raise InputError(f"dataset {data_name!r} has {dataset.channels} channels, the model {model.config.channels}")
    report: dict = {"run": str(run), "model": saved["model"], "step": saved.get("step"), "data": data_name}
    if (sampling := sampling_report(model)) is not None:
        report["sampling"] = sampling
    test_images, test_labels = dataset.test_images, dataset.test_labels
    count = min(n, len(test_images))
    device_of_model = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, LikelihoodModel):
        likelihood_set = test_images[:likelihood_images]
        with tqdm(
            total=len(likelihood_set),
            desc=f"IW-NLL k={importance_samples}",
            unit="img",
            disable=not sys.stderr.isatty(),
        ) as bar:
            report["likelihood"] = model.likelihood(
                to_model(likelihood_set).to(device_of_model),
                None if test_labels is None else test_labels[:likelihood_images],
                importance_samples=importance_samples,
                generator=generator,
                progress=bar.update,
            )
    fake = None
    try:
        net, info = load_feature_net(dataset.name, feature_net)
    except ImsynthError as error:  # no feature net for this dataset: report why, keep the other metrics
        report["sample_quality"] = {"skipped": str(error)}
    else:
        real = extract_features(net, test_images[:count])
        floor_reference = extract_features(net, dataset.train_images[:count])
        fake = model.generate(count, seed=seed)
        quality = compare_features(real, extract_features(net, fake))
        quality["fid_floor_train_vs_test"] = compare_features(real, floor_reference)["fid"]
        round_trip = None
        if isinstance(model, Autoencoded):  # samples made through an autoencoder cannot beat its reconstructions
            round_trip = reconstruct_in_batches(model, test_images[:count])
            quality["fid_floor_autoencoder"] = compare_features(real, extract_features(net, round_trip))["fid"]
        quality.update(n=count, reference="test split", feature_net=info)
        report["sample_quality"] = quality
        if feature_net is None:  # the dataset's second shipped network, another architecture trained apart
            try:
                second, second_info = load_feature_net(dataset.name, architecture=SECOND)
            except ImsynthError:
                pass
            else:
                second_real = extract_features(second, test_images[:count])
                other = compare_features(second_real, extract_features(second, fake))
                report["sample_quality_second"] = {"fid": other["fid"], "kid": other["kid"], "feature_net": second_info}
                if round_trip is not None:
                    floor = compare_features(second_real, extract_features(second, round_trip))["fid"]
                    report["sample_quality_second"]["fid_floor_autoencoder"] = floor
    if isinstance(model, Codec) and not model.conditional:
        report["rate_distortion"] = codec_curve(model, test_images[: min(count, 500)], device_of_model)
    source = dataset.factor_source
    if source is not None and disentanglement and isinstance(model, Encoder):
        report["disentanglement"] = {
            "mig": mutual_information_gap(model, source),
            "factor_vae": factor_vae_score(model, source),
        }
    if inception is not None:
        fake = model.generate(count, seed=seed) if fake is None else fake
        report["inception_fid"] = inception_fid(test_images[:count], fake, inception)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def reconstruct_in_batches(model, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """An autoencoded model's round trip of uint8 test images, as float [-1, 1] on the CPU."""
    device = next(model.parameters()).device
    return torch.cat(
        [
            model.autoencoder_round_trip(to_model(images[i : i + batch]).to(device)).cpu()
            for i in range(0, len(images), batch)
        ]
    )


def sampling_report(model) -> dict | None:
    """The sampler a diffusion run's samples were drawn with, and its cost in network evaluations."""
    if not isinstance(model, IterativeSampler):
        return None
    chosen = model.sampler()
    return {"sampler": chosen.name, "steps": chosen.steps, "evaluations": chosen.evaluations}


VIDEO_EVAL_CLIPS = 256  # test clips scored at most (each predicted PREDICTION_SAMPLES times)
PREDICTION_SAMPLES = 20  # the SVG/SRVP protocol's N for best-of-N


def evaluate_clips(model, saved: dict, run, data: str | None, n: int, seed: int, started) -> dict:
    """A video run on its test clips: prediction SSIM/PSNR per future frame after its context (mean and best of
    20 samples) beside copying the last context frame, for every run that predicts."""
    data_name = data or saved["data"]["name"]
    dataset = load_dataset(data_name, image_size=model.config.image_size)
    if dataset.kind != "clips":
        raise InputError(f"{data_name}: a video run is evaluated on clips; this dataset holds {dataset.kind}")
    clips = dataset.to_batch(dataset.test_images[: min(n, VIDEO_EVAL_CLIPS)])
    report: dict = {"run": str(run), "model": saved["model"], "step": saved.get("step"), "data": data_name}
    if (sampling := sampling_report(model)) is not None:
        report["sampling"] = sampling
    if isinstance(model, Predictor):
        context = min(model.context_frames, clips.shape[1] - 1)
        report["prediction"] = prediction_report(
            model, clips, context=context, frames=clips.shape[1] - context, samples=PREDICTION_SAMPLES, seed=seed
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def evaluate_text(model, saved: dict, run, data: str | None, importance_samples: int, sentences: int, started) -> dict:
    """A text run on its test split (the run's own tokenizer): NLL (importance-weighted with k samples for the
    VAE, exact for the LM) and perplexity; for the VAE also ELBO, reconstruction, KL, mutual information and
    active units; and bits per character (``data.text.bits_per_character``: unknown words spelled out)."""
    data_name = data or saved["data"]["name"]
    dataset = load_dataset(data_name, tokenizer=model.tokenizer)
    if dataset.kind != "text":
        raise InputError(f"dataset {data_name!r} holds images; {run} is a text run")
    tokens = dataset.test_images[:sentences].long().to(next(model.parameters()).device)
    report = {"run": str(run), "model": saved["model"], "step": saved.get("step"), "data": data_name}
    report.update(model.text_measures(tokens, importance_samples=importance_samples))
    report.update(
        bits_per_character(
            model.tokenizer,
            dataset.extra["test_text"][:sentences],
            report["nll"] * len(tokens),
            tokens.shape[1] - 2,
            dataset.extra["train_text"],
        )
    )
    report["vocab_size"] = model.tokenizer.get_vocab_size()
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
