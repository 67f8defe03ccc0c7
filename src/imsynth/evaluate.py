"""``evaluate_run``: every metric that applies to a trained run, as one JSON-able dict.

What is measured follows the model's declared capabilities: a ``LikelihoodModel`` reports ELBO / IW-NLL, a
``Codec`` its rate-distortion curve, every model sample quality on the dataset's in-domain features, an
``Encoder`` on data with known factors the disentanglement scores, a video run its Fréchet video distance and
per-frame FID/KID (a ``Predictor`` also its prediction SSIM/PSNR against copying the last frame, a
``ContentMotion`` model how often a swap keeps content and motion), and, with locally present Inception weights, the standard Inception FID.
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
from .metrics.clip_features import (
    clip_factors,
    clip_features,
    factor_agreement,
    head_accuracy,
    load_clip_feature_net,
)
from .metrics.disentanglement import factor_vae_score, mutual_information_gap
from .metrics.features import extract_features, load_feature_net
from .metrics.generative import compare_features, frechet_distance, kernel_distance
from .metrics.inception import check_inception, inception_fid
from .metrics.video import prediction_report
from .models import (
    Autoencoded,
    Codec,
    ContentMotion,
    Encoder,
    Guided,
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
    guidance: float | None = None,
    importance_samples: int = 500,
    likelihood_images: int = 1000,
    feature_net: str | None = None,
    disentanglement: bool = True,
    inception: str | Path | None = None,
    prediction_samples: int = 20,
    device: str = "auto",
    seed: int = 0,
) -> dict:
    """Likelihood (ELBO, IW-NLL), sample quality on in-domain features (FID, KID, precision/recall,
    density/coverage, with the train-vs-test FID floor), MIG/FactorVAE on ``shapes``, and Inception FID from the
    weights file ``inception`` where given. ``sampler``, ``steps`` and ``guidance`` choose how a diffusion run samples;
    ``prediction_samples``: the futures per test clip of a video run's best-of-N scores (the SVG/SRVP protocol
    draws 20; a diffusion model pays its sampler's evaluations for each)."""
    if n < 2 or importance_samples < 1 or likelihood_images < 1:
        raise InputError("--n must be >= 2, --k and --likelihood-images >= 1")
    if inception is not None:
        check_inception(inception)
    started = time.perf_counter()
    model, saved = load_run(run, device=device)
    model.config = sampling_config(model, sampler, steps, guidance)  # a model loaded for this evaluation only
    if isinstance(model, TextGenerator):
        return evaluate_text(model, saved, run, data, importance_samples, likelihood_images, started)
    if "clips" in type(model).capabilities:
        return evaluate_clips(model, saved, run, data, n, seed, started, feature_net, prediction_samples)
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
        if feature_net is not None:  # but the one the user named must load
            raise
        report["sample_quality"] = {"skipped": str(error)}
    else:
        real = extract_features(net, test_images[:count])
        floor_reference = extract_features(net, dataset.train_images[:count])
        fake = model.generate(count, seed=seed)
        quality = compare_features(real, extract_features(net, fake))
        quality["fid_floor_train_vs_test"] = compare_features(real, floor_reference)["fid"]
        round_trip = None
        if isinstance(model, Autoencoded):  # samples made through an autoencoder cannot beat its reconstructions
            round_trip = reconstruct_in_batches(model.autoencoder_round_trip, test_images[:count], device_of_model)
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


def reconstruct_in_batches(round_trip, images: torch.Tensor, device: torch.device, batch: int = 500) -> torch.Tensor:
    """``round_trip`` (an autoencoded model's ``autoencoder_round_trip``, a VAE's ``reconstruct``) of uint8 test
    images, run on ``device``, as float [-1, 1] on the CPU."""
    return torch.cat(
        [round_trip(to_model(images[i : i + batch]).to(device)).cpu() for i in range(0, len(images), batch)]
    )


def sampling_report(model) -> dict | None:
    """The sampler a diffusion run's samples were drawn with, and its cost in network evaluations."""
    if not isinstance(model, IterativeSampler):
        return None
    chosen = model.sampler()
    report = {"sampler": chosen.name, "steps": chosen.steps, "evaluations": chosen.evaluations}
    if isinstance(model, Guided) and model.conditional:
        report["guidance"] = model.guidance_scale(None)
    return report


VIDEO_EVAL_CLIPS = 256  # test clips scored at most (each predicted --futures times)
VIDEO_QUALITY_CLIPS = 500  # clips compared at most by the Fréchet video distance (the test split's default size)


def evaluate_clips(
    model, saved: dict, run, data: str | None, n: int, seed: int, started, clip_net=None, prediction_samples: int = 20
) -> dict:
    """A video run on its test clips: prediction SSIM/PSNR per future frame after its context (mean and best of
    ``prediction_samples`` samples) beside copying the last context frame, for every run that predicts; the Fréchet video distance
    (and KVD) on the dataset's clip feature network and per-frame FID/KID under both image networks of its
    frames, with the train-vs-test floor of each, for the clips it draws (or, for a model that only predicts,
    its predictions after the context); and, for a model that swaps content and motion, how often the clip
    network names the content clip's content and the motion clip's motion in the swapped clip."""
    data_name = data or saved["data"]["name"]
    dataset = load_dataset(data_name, image_size=model.config.image_size)
    if dataset.kind != "clips":
        raise InputError(f"{data_name}: a video run is evaluated on clips; this dataset holds {dataset.kind}")
    clips = dataset.to_batch(dataset.test_images[: min(n, VIDEO_EVAL_CLIPS)])
    report: dict = {"run": str(run), "model": saved["model"], "step": saved.get("step"), "data": data_name}
    if (sampling := sampling_report(model)) is not None:
        report["sampling"] = sampling
    context = min(model.context_frames, clips.shape[1] - 1) if isinstance(model, Predictor) else 0
    if isinstance(model, Predictor):
        report["prediction"] = prediction_report(
            model, clips, context=context, frames=clips.shape[1] - context, samples=prediction_samples, seed=seed
        )
    count = min(n, len(dataset.test_images), VIDEO_QUALITY_CLIPS)
    real = dataset.test_images[:count]
    made, origin = clips_to_score(model, dataset, real, context, seed)
    report["video_quality"] = {"clips": count, "generated": origin, **video_quality(dataset, real, made, clip_net)}
    if isinstance(model, ContentMotion):
        report["swap"] = swap_quality(model, dataset, real, seed, clip_net)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def clips_to_score(
    model, dataset, real: torch.Tensor, context: int, seed: int, *, predict: bool = False
) -> tuple[torch.Tensor, str]:
    """As many clips from ``model`` as ``real`` test clips, and how they were made: drawn from nothing where the
    model samples (unless ``predict``), else the first ``context`` real frames of each, then one prediction: with
    ``predict`` a model that does both is scored as a predictor is, like for like."""
    if predict and not isinstance(model, Predictor):
        raise InputError(f"model {model.registered_name!r} does not predict frames; only its samples can be scored")
    if not predict and "sample" in type(model).capabilities:
        return model.generate(len(real), seed=seed), "samples"
    generator = torch.Generator().manual_seed(seed)
    given = dataset.to_batch(real[:, :context])
    future = model.predict(given.to(next(model.parameters()).device), real.shape[1] - context, generator=generator)
    return torch.cat([given, future.cpu()], dim=1), f"{context} real frames, then one prediction"


def video_quality(dataset, real: torch.Tensor, made: torch.Tensor, clip_net=None) -> dict:
    """FVD/KVD of ``made`` clips against ``real`` test clips on the dataset's clip network, and per-frame FID/KID
    under both shipped networks of its frames' source; each beside its floor (as many train clips against the
    test clips). A missing network is reported as skipped, with the reason."""
    floor = dataset.train_images[: len(real)]
    report: dict = {}
    try:
        net, info = load_clip_feature_net(dataset.name, clip_net)
    except ImsynthError as error:
        if clip_net is not None:  # the network the user named must load; a dataset may have none shipped
            raise
        report["fvd"] = {"skipped": str(error)}
    else:
        reference = clip_features(net, real)
        fake = clip_features(net, made)
        kvd, kvd_std = kernel_distance(reference, fake)
        report["fvd"] = {
            "fvd": frechet_distance(reference, fake),
            "kvd": kvd,
            "kvd_std": kvd_std,
            "fvd_floor_train_vs_test": frechet_distance(reference, clip_features(net, floor)),
            "clip_net": {k: info[k] for k in ("name", "path", "test_accuracy")},
        }
    if dataset.frame_features is None:
        report["frame_fid"] = {"skipped": f"{dataset.name}: no image feature network for its frames"}
        return report
    frames = {"real": real.flatten(0, 1), "made": made.flatten(0, 1), "floor": floor.flatten(0, 1)}
    report["frame_fid"] = []
    for architecture in ("vgg", SECOND):
        try:
            net, info = load_feature_net(dataset.frame_features, architecture=architecture)
        except ImsynthError as error:
            report["frame_fid"].append({"skipped": str(error)})
            continue
        features = {key: extract_features(net, value) for key, value in frames.items()}
        kid, kid_std = kernel_distance(features["real"], features["made"])
        report["frame_fid"].append(
            {
                "fid": frechet_distance(features["real"], features["made"]),
                "kid": kid,
                "kid_std": kid_std,
                "fid_floor_train_vs_test": frechet_distance(features["real"], features["floor"]),
                "frames": len(frames["made"]),
                "feature_net": info,
            }
        )
    return report


SWAP_PAIRS = 256


def swap_quality(model, dataset, real: torch.Tensor, seed: int, clip_net=None) -> dict:
    """Swaps between test clips (content of A, motion of B, B a random other test clip), judged by the dataset's
    clip network; its accuracy on the real test clips (per factor) is the ceiling the agreement is read against."""
    try:
        net, info = load_clip_feature_net(dataset.name, clip_net)
    except ImsynthError as error:
        if clip_net is not None:
            raise
        return {"skipped": str(error)}
    count = min(SWAP_PAIRS, len(real))
    generator = torch.Generator().manual_seed(seed)
    order = (torch.arange(count) + torch.randint(1, max(count, 2), (count,), generator=generator)) % count
    content, motion = dataset.to_batch(real[:count]), dataset.to_batch(real[:count][order])
    device = next(model.parameters()).device
    swapped = model.swap(content.to(device), motion.to(device)).cpu()
    if dataset.factors_test is not None:  # judged against the true factors, the network's accuracy the ceiling
        truth = dataset.factors_test[:count]
        report = factor_agreement(net, info, swapped, truth, truth[order])
        report["judged_against"] = "true factors"
        accuracy = head_accuracy(net, real[:count], truth)
        report["clip_net_accuracy_on_real"] = {name: round(a, 4) for name, a in zip(info["factors"], accuracy)}
    else:
        report = factor_agreement(net, info, swapped, clip_factors(net, content), clip_factors(net, motion))
        report["judged_against"] = "the clip network's naming of the source clips"
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
