"""Generated images as training data: write them as a dataset, and measure what they are worth.

``write_generated_dataset`` writes a class-balanced set from a (conditional) run as an ``.npz`` (uint8
NxHxWxC ``images`` + ``labels``, readable as ``--data npz:PATH``) or as a folder with one sub-folder per
class (readable as ``--data folder:PATH``).

``augmentation_value`` trains the same small classifier (the feature-network CNN) for the same number of
steps on (a) a small labelled real subset, (b) that subset plus generated images, and (c) generated images
only, and scores each on the real test split: (b) - (a) is the augmentation gain, (c) is the Classification
Accuracy Score (Ravuri & Vinyals 2019).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

from ..data import ImageDataset, load_dataset
from ..errors import InputError
from ..image import check_output, is_folder_output, save_image
from ..metrics.features import train_feature_net
from ..models import load_run
from ..runtime.tensors import from_model, uint8_to_nhwc
from .npz import write_npz


def generate_labelled(model, count: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``count`` uint8 NCHW samples, classes cycling for a conditional model (labels None otherwise)."""
    labels = model.class_labels(count)
    return from_model(model.generate(count, seed=seed, labels=labels)), labels


def write_generated_dataset(run, out, *, count: int = 10000, seed: int = 0, device: str = "auto") -> Path:
    folder = is_folder_output(out)
    out = check_output(out, suffixes=(".npz",), folder_ok=True)
    model, saved = load_run(run, device=device)
    images, labels = generate_labelled(model, count, seed=seed)
    names = saved["data"].get("class_names") or []
    if not folder:
        return write_npz(out, uint8_to_nhwc(images), labels)
    pictures = uint8_to_nhwc(images)
    for index, picture in enumerate(pictures):
        folder = out
        if labels is not None:
            label = int(labels[index])
            # zero-padded index first, so a folder dataset's sorted classes keep the label order
            folder = out / f"{label:03d}-{_safe(names[label]) if label < len(names) else label}"
        save_image(folder / f"sample-{index:06d}.png", picture)
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))


def _classifier_accuracy(
    train_images, train_labels, test: ImageDataset, *, steps: int, seed: int, class_names
) -> float:
    dataset = ImageDataset(
        name="augment-probe",
        train_images=train_images,
        train_labels=train_labels,
        test_images=test.test_images,
        test_labels=test.test_labels,
        class_names=class_names,
    )
    batch = min(128, len(train_images))
    epochs = max(1, math.ceil(steps * batch / len(train_images)))
    _, info = train_feature_net(
        dataset,
        None,
        epochs=epochs,
        batch_size=batch,
        seed=seed,
        quiet=not sys.stderr.isatty(),
        flip=test.name != "digits",
    )
    return info["test_accuracy"]


def augmentation_value(
    run, *, real: int = 1000, generated: int = 5000, steps: int = 600, seed: int = 0, device: str = "auto"
) -> dict:
    """Accuracy with and without generated images added to ``real`` labelled images, and the CAS."""
    model, saved = load_run(run, device=device)
    if not model.conditional:
        raise InputError(
            f"{run}: the augmentation value needs a class-conditional model (train one with --set conditional=true)"
        )
    if real < model.config.num_classes or generated < model.config.num_classes or steps < 1:
        raise InputError("need at least one real and one generated image per class, and steps >= 1")
    started = time.perf_counter()
    data = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
    generator = torch.Generator().manual_seed(seed)
    # a class-balanced real subset
    per_class = real // model.config.num_classes
    chosen = []
    for label in range(model.config.num_classes):
        members = torch.nonzero(data.train_labels == label).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    subset = torch.cat(chosen)
    real_images, real_labels = data.train_images[subset], data.train_labels[subset]
    fake_images, fake_labels = generate_labelled(model, generated, seed=seed + 1)
    names = data.class_names
    baseline = _classifier_accuracy(real_images, real_labels, data, steps=steps, seed=seed, class_names=names)
    augmented = _classifier_accuracy(
        torch.cat([real_images, fake_images]),
        torch.cat([real_labels, fake_labels]),
        data,
        steps=steps,
        seed=seed,
        class_names=names,
    )
    cas = _classifier_accuracy(fake_images, fake_labels, data, steps=steps, seed=seed, class_names=names)
    return {
        "run": str(run),
        "data": data.name,
        "real_images": len(real_images),
        "generated_images": generated,
        "steps": steps,
        "test_images": len(data.test_images),
        "accuracy_real_only": baseline,
        "accuracy_real_plus_generated": augmented,
        "augmentation_gain": augmented - baseline,
        "classification_accuracy_score": cas,
        "seconds": round(time.perf_counter() - started, 1),
    }


def augment(
    run,
    out=None,
    *,
    count: int = 10000,
    evaluate: bool = False,
    real: int = 1000,
    generated: int = 5000,
    steps: int = 600,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Write ``count`` generated images to ``out`` and/or (``evaluate``) measure their value as training data."""
    if out is None and not evaluate:
        raise InputError("say what to do: -o OUT to write the set, --evaluate to measure it, or both")
    done: dict = {}
    if evaluate:  # first: a run it refuses must not leave a written set behind
        done |= augmentation_value(run, real=real, generated=generated, steps=steps, seed=seed, device=device)
    if out is not None:
        done = {"out": str(write_generated_dataset(run, out, count=count, seed=seed, device=device)), **done}
    return done
