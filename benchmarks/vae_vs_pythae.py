"""Training throughput: imsynth's engine against pythae's TrainingPipeline, same network, same data, same batch.

The network is pythae's own conv MNIST VAE (Encoder_Conv_VAE_MNIST / Decoder_Conv_AE_MNIST, ~13M parameters)
on Fashion-MNIST; imsynth trains it through a thin adapter (pythae's decoder ends in a sigmoid; imsynth's
Bernoulli likelihood takes logits, so the sigmoid moves into the loss, which is the same maths). Both runs
include their own set-up and checkpoint writing. Also prints the GFLOP/s of an imsynth training step and the
machine's measured bf16 matmul peak.

Set-up (once, beside the installed torch; never a second torch):
    .venv/bin/pip install --no-deps pythae && .venv/bin/pip install pydantic cloudpickle
Run:
    .venv/bin/python benchmarks/vae_vs_pythae.py [--images 12800] [--epochs 2] [--batch 128]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import tempfile
import time

import numpy as np
import torch
from torch import nn


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def peak_matmul_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


class PeerEncoder(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, images):
        output = self.inner(images)
        return torch.cat([output["embedding"], output["log_covariance"]], dim=1)


class PeerDecoder(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        last = inner.layers[-1]
        if isinstance(last, nn.Sequential) and isinstance(last[-1], nn.Sigmoid):
            last[-1] = nn.Identity()  # logits out; the sigmoid lives in imsynth's Bernoulli likelihood

    def forward(self, latents):
        return self.inner(latents)["reconstruction"]


def pythae_networks(latent_dim: int):
    from pythae.models import VAEConfig as PythaeVAEConfig
    from pythae.models.nn.benchmarks.mnist import Decoder_Conv_AE_MNIST, Encoder_Conv_VAE_MNIST

    config = PythaeVAEConfig(input_dim=(1, 28, 28), latent_dim=latent_dim, reconstruction_loss="bce")
    return config, Encoder_Conv_VAE_MNIST(config), Decoder_Conv_AE_MNIST(config)


def run_pythae(images01: np.ndarray, epochs: int, batch: int, latent_dim: int) -> float:
    from pythae.models import VAE as PythaeVAE
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    logging.getLogger("pythae").setLevel(logging.ERROR)
    config, encoder, decoder = pythae_networks(latent_dim)
    model = PythaeVAE(model_config=config, encoder=encoder, decoder=decoder)
    with tempfile.TemporaryDirectory() as out:
        training = BaseTrainerConfig(
            output_dir=out,
            num_epochs=epochs,
            learning_rate=1e-3,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=batch,
            steps_saving=None,
            no_cuda=True,
        )
        pipeline = TrainingPipeline(training_config=training, model=model)
        started = time.perf_counter()
        pipeline(train_data=images01)
        seconds = time.perf_counter() - started
    return len(images01) * epochs / seconds


def run_imsynth(
    dataset, epochs: int, batch: int, latent_dim: int, precision: str, channels_last: bool
) -> tuple[float, float]:
    from imsynth.models import fit_config_to_data, get_entry
    from imsynth.models.vae import VAE
    from imsynth.train import TrainConfig, train

    config = fit_config_to_data(
        get_entry("vae").default_config(),
        channels=1,
        image_size=28,
        num_classes=10,
        dataset_size=len(dataset.train_images),
    )
    config.latent_dim = latent_dim
    _, encoder, decoder = pythae_networks(latent_dim)
    torch.manual_seed(0)
    model = VAE(config, encoder=PeerEncoder(encoder), decoder=PeerDecoder(decoder))
    steps = len(dataset.train_images) * epochs // batch
    with tempfile.TemporaryDirectory() as out:
        train_config = TrainConfig(
            steps=steps,
            batch_size=batch,
            lr=1e-3,
            precision=precision,
            channels_last=channels_last,
            sample_every=10**9,
            checkpoint_every=10**9,
            log_every=10**9,
            ema_decay=0.0,
        )
        started = time.perf_counter()
        train("vae", dataset, out, model=model, train_config=train_config, quiet=True)
        seconds = time.perf_counter() - started
    # FLOPs of one training step (forward + backward) on this network, counted by PyTorch
    from torch.utils.flop_counter import FlopCounterMode

    images = torch.rand(batch, 1, 28, 28) * 2 - 1
    with FlopCounterMode(display=False) as counter:
        model.loss(images).loss.backward()
    step_flops = counter.get_total_flops()
    images_per_second = steps * batch / seconds
    return images_per_second, step_flops * images_per_second / batch / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=12800, help="training images (a Fashion-MNIST subset)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--skip-fp32", action="store_true", help="skip the fp32 ablation of imsynth")
    args = parser.parse_args()

    from imsynth.data import load_dataset

    dataset = load_dataset("fashion-mnist", limit=args.images)
    images01 = dataset.train_images.float().numpy() / 255.0
    print(
        f"machine: {os.cpu_count()} cores, {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"data: Fashion-MNIST train[:{len(images01)}], {args.epochs} epochs, batch {args.batch}")
    peer = run_pythae(images01, args.epochs, args.batch, args.latent_dim)
    ours, gflops = run_imsynth(dataset, args.epochs, args.batch, args.latent_dim, "auto", True)
    from imsynth.runtime.device import resolve_precision

    chosen = resolve_precision("auto", torch.device("cpu"))
    print(f"pythae TrainingPipeline          {peer:8.1f} img/s")
    print(f"imsynth engine ({chosen}, channels_last) {ours:8.1f} img/s   ratio {ours / peer:.2f}x")
    if not args.skip_fp32:
        ours32, _ = run_imsynth(dataset, args.epochs, args.batch, args.latent_dim, "fp32", False)
        print(
            f"imsynth engine (fp32, contiguous)  {ours32:8.1f} img/s   ratio {ours32 / peer:.2f}x  "
            f"(bf16+channels_last gain {ours / ours32:.2f}x)"
        )
    peak16, peak32 = peak_matmul_gflops(torch.bfloat16), peak_matmul_gflops(torch.float32)
    print(
        f"imsynth training step: {gflops:.1f} GFLOP/s; measured matmul peak bf16 {peak16:.1f}, "
        f"fp32 {peak32:.1f} GFLOP/s -> {100 * gflops / peak16:.0f}% of bf16 peak"
    )
    try:
        version = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(f"imsynth commit {version}")
    except OSError:
        pass


if __name__ == "__main__":
    main()
