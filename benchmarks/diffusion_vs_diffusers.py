"""imsynth's default diffusion model against diffusers' UNet2DModel + DDPM/DDIM schedulers, same parameter count.

    pip install diffusers          # pulls no torch (diffusers does not depend on it); check `pip list` after
    python benchmarks/diffusion_vs_diffusers.py [--threads 2] [--train-steps 30] [--sample-images 100]

Both models are built for Fashion-MNIST (1x28x28). diffusers' UNet2DModel is sized to our parameter count
(widths 32/64/64, one layer per block, attention at 7x7 and in the middle, as ours). In one process, same
threads, same batches:

- training img/s: imsynth's engine (``imsynth.train.train``: EMA, logging, bf16 autocast as chosen by
  ``precision=auto``; steady state between its step callbacks) against a plain diffusers loop (DDPMScheduler.add_noise, MSE on eps, fused AdamW,
  EMA by torch._foreach_lerp_), tried in fp32 and in bf16 autocast; diffusers' faster variant counts.
- DDIM-50 sampling img/s: ``Diffusion.sample(sampler="ddim", steps=50)`` against a DDIMScheduler loop (what
  DDIMPipeline does, without its PIL conversion), diffusers again in fp32 and bf16, the faster counting.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import torch


def our_model(image_size: int = 28):
    from imsynth.models import build_model, fit_config_to_data, get_entry

    config = fit_config_to_data(
        get_entry("ddpm").default_config(), channels=1, image_size=image_size, num_classes=10, dataset_size=60000
    )
    return build_model("ddpm", config)


def diffusers_model(widths=(32, 64, 64)):
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=28,
        in_channels=1,
        out_channels=1,
        block_out_channels=widths,
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=16,
    )


def parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def time_our_training(dataset, steps: int, batch: int) -> float:
    """Steady-state img/s inside the engine: timed by its step callback from after step 3 to the last step
    (setup, the final checkpoint and the final sample grid are left out, as diffusers' loop has none)."""
    from imsynth.models import get_entry
    from imsynth.train import train

    entry = get_entry("ddpm")
    config = dataclasses.replace(
        entry.default_train_config(),
        steps=steps + 3,
        batch_size=batch,
        log_every=10**6,
        sample_every=10**6,
        checkpoint_every=10**6,
        guard=False,
        num_samples=1,
    )
    clock: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as root:
        train(
            "ddpm",
            dataset,
            f"{root}/run",
            train_config=config,
            quiet=True,
            device="cpu",
            callback=lambda step, _: clock.__setitem__(step, time.perf_counter()),
        )
    return steps * batch / (clock[steps + 3] - clock[3])


def time_diffusers_training(dataset, steps: int, batch: int, precision: str) -> float:
    from diffusers import DDPMScheduler

    from imsynth.data import to_model

    torch.manual_seed(0)
    unet = diffusers_model().train()
    ema = [p.detach().clone() for p in unet.parameters()]
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=4e-4, fused=True)
    images = dataset.train_images
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16")

    def step(index: int) -> None:
        clean = to_model(images[index * batch : (index + 1) * batch])
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, 1000, (len(clean),))
        with autocast:
            prediction = unet(scheduler.add_noise(clean, noise, timesteps), timesteps).sample
            loss = torch.nn.functional.mse_loss(prediction.float(), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        torch._foreach_lerp_(ema, [p.detach() for p in unet.parameters()], 0.001)

    for index in range(3):
        step(index)
    started = time.perf_counter()
    for index in range(steps):
        step(index)
    return steps * batch / (time.perf_counter() - started)


def time_our_sampling(count: int) -> float:
    model = our_model().eval()
    model.sample(4, sampler="ddim", steps=5)
    started = time.perf_counter()
    images = model.sample(count, sampler="ddim", steps=50, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(images).all()
    return count / (time.perf_counter() - started)


@torch.no_grad()
def time_diffusers_sampling(count: int, precision: str) -> float:
    from diffusers import DDIMScheduler

    unet = diffusers_model().eval()
    scheduler = DDIMScheduler(num_train_timesteps=1000)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16")

    def run(batch: int, steps: int) -> torch.Tensor:
        scheduler.set_timesteps(steps)
        x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        for t in scheduler.timesteps:
            with autocast:
                eps = unet(x, t).sample.float()
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
        return x

    run(4, 5)
    started = time.perf_counter()
    images = run(count, 50)
    assert torch.isfinite(images).all()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sample-images", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import diffusers

    from imsynth.data import load_dataset

    dataset = load_dataset("fashion-mnist", limit=args.batch * (args.train_steps + 3))
    ours, theirs = parameters(our_model()), parameters(diffusers_model())
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, {args.threads} threads")
    print(f"parameters: imsynth {ours:,}  diffusers {theirs:,}  ({theirs / ours:.2f}x)")
    rows = {}
    rows["train"] = (
        time_our_training(dataset, args.train_steps, args.batch),
        {p: time_diffusers_training(dataset, args.train_steps, args.batch, p) for p in ("fp32", "bf16")},
    )
    rows["ddim-50 sampling"] = (
        time_our_sampling(args.sample_images),
        {p: time_diffusers_sampling(args.sample_images, p) for p in ("fp32", "bf16")},
    )
    for name, (mine, peers) in rows.items():
        best = max(peers, key=peers.get)
        peer_text = "  ".join(f"diffusers {p} {v:.1f}" for p, v in peers.items())
        print(
            f"{name:<17} img/s: imsynth {mine:.1f}  {peer_text}  -> {mine / peers[best]:.2f}x diffusers' best ({best})"
        )


if __name__ == "__main__":
    main()
