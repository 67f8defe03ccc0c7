"""imsynth's GAN engine against torchgan's Trainer on torchgan's own DCGAN, Fashion-MNIST at 32 px.

    pip install --no-deps torchgan==0.1.0     # beside our torch; never let pip resolve another torch
    python benchmarks/gan_vs_torchgan.py throughput [--batch 64] [--steps 60]
    python benchmarks/gan_vs_torchgan.py race --minutes 30 [--threads 1]
    python benchmarks/gan_vs_torchgan.py race --minutes 30 --threads 1 --architecture imsynth --preset cpu-30min

torchgan imports torchvision at module level, but only uses it to save image grids and for an Inception
classifier we never call; PyPI's torchvision does not work with this torch, so this script installs a small
stand-in module named ``torchvision`` (``_torchvision_stand_in`` below) before importing torchgan. It
provides ``utils.make_grid``/``utils.save_image`` (via imsynth.image) and nothing else.

``throughput``: the same architecture (torchgan.models.DCGANGenerator/DCGANDiscriminator, step_channels 64,
z 100), the same non-saturating loss, Adam(2e-4, (0.5, 0.999)), batch and data, timed after warm-up: torchgan's
``Trainer`` with a DataLoader against imsynth's engine (``GAN(config, generator=..., discriminator=...)``).

``race``: both trainers run for the same wall-clock minutes at the same time, each limited to ``--threads``
intra-op threads so they get equal CPU; then in-domain FID (fashion-mnist feature network, 5,000 samples against
5,000 test images) of torchgan's generator and of imsynth's ``model.safetensors`` (best by FID, EMA).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import types
from pathlib import Path

import torch


def _torchvision_stand_in() -> None:
    if "torchvision" in sys.modules:
        return
    # torchmetrics probes for torchvision when first imported; let it see the truth (absent) before the stand-in
    import torchmetrics.image.fid  # noqa: F401

    from imsynth.image import make_grid as numpy_grid
    from imsynth.image import save_image as imsynth_save
    from imsynth.runtime.tensors import tensor_to_numpy

    def imsynth_grid(images, nrow=None):
        return numpy_grid(tensor_to_numpy(images), nrow=nrow)

    module = types.ModuleType("torchvision")
    utils = types.ModuleType("torchvision.utils")

    def make_grid(images, nrow=8, **_):
        return torch.from_numpy(imsynth_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow))

    def save_image(image, path, **_):
        array = image.detach().float().cpu()
        if array.ndim == 4:
            array = torch.from_numpy(imsynth_grid(array.clamp(-1, 1)))
        imsynth_save(path, array.numpy())

    utils.make_grid, utils.save_image = make_grid, save_image
    module.utils = utils
    sys.modules["torchvision"], sys.modules["torchvision.utils"] = module, utils


def _data(image_size: int = 32):
    from imsynth.data import load_dataset

    return load_dataset("fashion-mnist", image_size=image_size)


class _Deadline:
    """Wraps a DataLoader: stops torchgan's epoch loop after ``seconds`` or ``batches`` (whichever first)."""

    class Done(Exception):
        pass

    def __init__(self, loader, seconds: float | None = None, batches: int | None = None) -> None:
        self.loader, self.seconds, self.batches = loader, seconds, batches
        self.batch_size = loader.batch_size
        self.count = 0
        self.started = None

    def __iter__(self):
        self.started = self.started or time.perf_counter()
        for batch in self.loader:
            if self.batches is not None and self.count >= self.batches:
                raise self.Done
            if self.seconds is not None and time.perf_counter() - self.started >= self.seconds:
                raise self.Done
            self.count += 1
            yield batch

    def __len__(self):
        return len(self.loader)


def torchgan_trainer(batch: int, out: Path):
    _torchvision_stand_in()
    from torchgan.losses import MinimaxDiscriminatorLoss, MinimaxGeneratorLoss
    from torchgan.models import DCGANDiscriminator, DCGANGenerator
    from torchgan.trainer import Trainer

    adam = {"lr": 2e-4, "betas": (0.5, 0.999)}
    models = {
        "generator": {
            "name": DCGANGenerator,
            "args": {"encoding_dims": 100, "out_size": 32, "out_channels": 1, "step_channels": 64},
            "optimizer": {"name": torch.optim.Adam, "args": adam},
        },
        "discriminator": {
            "name": DCGANDiscriminator,
            "args": {"in_size": 32, "in_channels": 1, "step_channels": 64},
            "optimizer": {"name": torch.optim.Adam, "args": adam},
        },
    }
    return Trainer(
        models,
        [MinimaxGeneratorLoss(), MinimaxDiscriminatorLoss()],
        device=torch.device("cpu"),
        epochs=10_000,
        sample_size=64,
        checkpoints=str(out / "gan"),
        recon=str(out / "images"),
        retain_checkpoints=1,
    )


def torchgan_loader(batch: int):
    data = _data()
    images = data.train_images.float() / 127.5 - 1
    dataset = torch.utils.data.TensorDataset(images, data.train_labels)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)


def run_torchgan(batch: int, *, seconds: float | None = None, batches: int | None = None, out: Path) -> tuple:
    trainer = torchgan_trainer(batch, out)
    loader = _Deadline(torchgan_loader(batch), seconds=seconds, batches=batches)
    started = time.perf_counter()
    try:
        trainer(loader)
    except _Deadline.Done:
        pass
    elapsed = time.perf_counter() - started
    return trainer, loader.count, elapsed


def imsynth_model_with_torchgan_architecture():
    _torchvision_stand_in()
    from torchgan.models import DCGANDiscriminator, DCGANGenerator

    from imsynth.models import get_entry
    from imsynth.models.base import fit_config_to_data
    from imsynth.models.gan import GAN

    config = fit_config_to_data(
        get_entry("dcgan").default_config(), channels=1, image_size=32, num_classes=10, dataset_size=60000
    )
    config = dataclasses.replace(config, latent_dim=100, g_lr=2e-4, d_lr=2e-4)
    torch.manual_seed(0)
    return GAN(
        config,
        generator=DCGANGenerator(encoding_dims=100, out_size=32, out_channels=1, step_channels=64),
        discriminator=DCGANDiscriminator(in_size=32, in_channels=1, step_channels=64),
    )


def run_imsynth(
    batch: int,
    out: Path,
    *,
    steps: int | None = None,
    minutes: float | None = None,
    architecture: str = "torchgan",
    overrides: list[str] | None = None,
):
    from imsynth.models import get_entry
    from imsynth.train import train

    config = dataclasses.replace(
        get_entry("dcgan").default_train_config(),
        batch_size=batch,
        steps=steps,
        minutes=minutes,
        log_every=20,
        sample_every=10**9,
        fid_every=500 if minutes else 0,
    )
    data = _data(32)
    if architecture == "torchgan":
        return train(
            "dcgan", data, out, model=imsynth_model_with_torchgan_architecture(), train_config=config, quiet=True
        )
    from imsynth.config import apply_overrides

    entry = get_entry("dcgan")
    configs = apply_overrides({"model": entry.default_config(), "train": config}, list(overrides or []))
    return train("dcgan", data, out, model_config=configs["model"], train_config=configs["train"], quiet=True)


def throughput(args) -> None:
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_torchgan(args.batch, batches=10, out=tmp / "tg-warm")
        _, count, elapsed = run_torchgan(args.batch, batches=args.steps, out=tmp / "tg")
        theirs = count * args.batch / elapsed
        run_imsynth(args.batch, tmp / "warm", steps=10)
        started = time.perf_counter()
        result = run_imsynth(args.batch, tmp / "ours", steps=args.steps)
        ours = result.step * args.batch / (time.perf_counter() - started)
    print(
        json.dumps(
            {
                "batch": args.batch,
                "steps": args.steps,
                "threads": args.threads,
                "torchgan_img_per_s": round(theirs, 1),
                "imsynth_img_per_s": round(ours, 1),
                "ratio": round(ours / theirs, 2),
            }
        )
    )


def _race_torchgan(minutes: float, batch: int, threads: int, out: str, queue) -> None:
    torch.set_num_threads(threads)
    trainer, count, elapsed = run_torchgan(batch, seconds=minutes * 60, out=Path(out))
    torch.save(trainer.generator.state_dict(), Path(out) / "generator.pt")  # our own file, read back below
    queue.put({"torchgan_batches": count, "torchgan_seconds": round(elapsed, 1)})


def _race_imsynth(minutes: float, batch: int, threads: int, out: str, architecture: str, overrides, queue) -> None:
    torch.set_num_threads(threads)
    result = run_imsynth(batch, Path(out), minutes=minutes, architecture=architecture, overrides=overrides)
    queue.put({"imsynth_steps": result.step, "imsynth_stopped_by": result.stopped_by})


@torch.no_grad()
def _fid_of(generate, count: int = 5000) -> dict:
    """In-domain FID under both shipped Fashion-MNIST feature networks (the VGG-style one and the second, a
    ResNet trained independently), on the same samples: a result that holds under only one is not a result."""
    from imsynth.metrics.features import extract_features
    from imsynth.metrics.generative import frechet_distance
    from imsynth.runtime.classifier import SECOND, load_feature_net

    data = _data(32)
    generator = torch.Generator().manual_seed(0)
    fake = torch.cat([generate(500, generator) for _ in range(count // 500)])
    found = {}
    for architecture in ("vgg", SECOND):
        net, _ = load_feature_net("fashion-mnist", architecture=architecture)
        real = extract_features(net, data.test_images[:count])
        found[architecture] = frechet_distance(real, extract_features(net, fake))
    return found


def race(args) -> None:
    _torchvision_stand_in()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    context = mp.get_context("spawn")
    queue = context.Queue()
    jobs = [
        context.Process(
            target=_race_torchgan, args=(args.minutes, args.batch, args.threads, str(out / "torchgan"), queue)
        ),
        context.Process(
            target=_race_imsynth,
            args=(args.minutes, args.batch, args.threads, str(out / "imsynth"), args.architecture, args.set, queue),
        ),
    ]
    for job in jobs:
        job.start()
    report = {}
    for _ in jobs:
        report.update(queue.get())
    for job in jobs:
        job.join()
    from torchgan.models import DCGANGenerator

    from imsynth.models import load_run

    generator = DCGANGenerator(encoding_dims=100, out_size=32, out_channels=1, step_channels=64)
    generator.load_state_dict(torch.load(out / "torchgan" / "generator.pt", weights_only=True))
    generator.eval()
    torchgan_fid = _fid_of(lambda n, g: generator(torch.randn(n, 100, generator=g)))
    if args.architecture == "torchgan":
        model = imsynth_model_with_torchgan_architecture()
        from imsynth.runtime import runs as ckpt

        ckpt.load_weights_into(model, ckpt.read_tensors(out / "imsynth" / ckpt.WEIGHTS), out / "imsynth")
        model.eval()
    else:
        model, _ = load_run(out / "imsynth", device="cpu")
    imsynth_fid = _fid_of(lambda n, g: model.sample(n, generator=g))
    for architecture, suffix in (("vgg", ""), ("resnet", "_second_network")):
        report["torchgan_fid" + suffix] = torchgan_fid[architecture]
        report["imsynth_fid" + suffix] = imsynth_fid[architecture]
        report["fid_ratio" + suffix] = round(imsynth_fid[architecture] / torchgan_fid[architecture], 3)
    report.update(
        minutes=args.minutes,
        threads=args.threads,
        batch=args.batch,
        architecture=args.architecture,
        imsynth_overrides=args.set,
        preset=args.preset,
    )
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["throughput", "race"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--architecture",
        choices=["torchgan", "imsynth"],
        default="torchgan",
        help="race: imsynth trains torchgan's DCGAN, or its own dcgan (defaults + --set) at 32 px",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="race with --architecture imsynth: override our dcgan's config (e.g. g_width=32)",
    )
    parser.add_argument(
        "--preset", help="race with --architecture imsynth: a preset of our dcgan (e.g. cpu-30min), before --set"
    )
    parser.add_argument("--out", default="runs/gan-race")
    args = parser.parse_args()
    if args.preset:
        from imsynth.models import get_preset

        args.set = [*get_preset("dcgan", args.preset).settings, *args.set]
    if args.phase == "throughput":
        throughput(args)
    else:
        race(args)


if __name__ == "__main__":
    main()
