"""Few-step samplers on one trained diffusion run: FID under both shipped feature networks and img/s, against
DDIM-50 on the same run and against diffusers' DPMSolverMultistepScheduler / UniPCMultistepScheduler driving the
same network.

    pip install diffusers          # pulls no torch; check `pip list` after
    python benchmarks/samplers.py runs/ddpm30 [--n 5000] [--threads 2]

Every sampler starts from the same initial noise (common random numbers: the differences between rows are not
noise of the draw). diffusers' schedulers get the run's own betas, v-prediction and "trailing" spacing, the grid
imsynth's multistep solvers use; they have no per-step clamp of the x_0 estimate, so imsynth's solvers are also run
with the clamp off ("no clip"), and the largest pixel difference between the two on the first batch is printed:
it checks that both solve the same equations. Writes docs/results/samplers.json and a grid of the same 8 noises
through every sampler (docs/images/samplers.png).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

ROWS = [  # (label, sampler, steps); ddim-50 first: the reference
    ("ddim-50", "ddim", 50),
    ("ddim-10", "ddim", 10),
    ("dpm++2m-10", "dpm++2m", 10),
    ("unipc-10", "unipc", 10),
    ("heun-5 (9 evals)", "heun", 5),
    ("euler-10", "euler", 10),
    ("dpm++2m-20", "dpm++2m", 20),
    ("unipc-5", "unipc", 5),
    ("dpm++2m-5", "dpm++2m", 5),
    ("unipc-2", "unipc", 2),
    ("dpm++2m-1", "dpm++2m", 1),
]
PEERS = [("diffusers dpm++2m-10", "dpm", 10), ("diffusers unipc-10", "unipc", 10)]
BATCH = 250


def noises(count: int, shape: tuple[int, ...]):
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        yield torch.randn(size, *shape, generator=torch.Generator().manual_seed(start))


def draw(make, count: int, shape) -> tuple[torch.Tensor, float]:
    """``make(noise) -> images`` over all batches; the images and img/s."""
    started, chunks = time.perf_counter(), []
    for noise in noises(count, shape):
        chunks.append(make(noise).clamp(-1, 1).cpu())
    return torch.cat(chunks), count / (time.perf_counter() - started)


def decoder(model):
    """What turns the reverse process's output into images: nothing for pixel diffusion, the run's own
    autoencoder for a latent family (its time is part of every sampler's img/s)."""
    return model.decode if "autoencoded" in model.capabilities else (lambda x: x)


def ours(model, name: str, steps: int):
    decode = decoder(model)

    def make(noise):
        return decode(model.run_sampler(noise, model.sampler(name, steps), None))

    return make


def diffusers_loop(model, kind: str, steps: int):
    from diffusers import DPMSolverMultistepScheduler, UniPCMultistepScheduler

    common = dict(
        num_train_timesteps=model.config.timesteps,
        trained_betas=model.schedule.betas.numpy(),
        prediction_type="v_prediction" if model.config.prediction == "v" else "epsilon",
        timestep_spacing="trailing",
        solver_order=2,
    )
    if kind == "dpm":
        scheduler = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", **common)
    else:
        scheduler = UniPCMultistepScheduler(solver_type="bh2", predict_x0=True, **common)

    decode = decoder(model)

    @torch.no_grad()
    def make(noise):
        scheduler.set_timesteps(steps)
        x = noise
        for t in scheduler.timesteps:
            timesteps = torch.full((len(x),), int(t), dtype=torch.int64)
            with model._autocast(x.device):
                output = model.network(x, timesteps, None).float()
            x = scheduler.step(output, t, x).prev_sample
        return decode(x)

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="docs/results/samplers.json")
    parser.add_argument("--grid", default="docs/images/samplers.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import diffusers

    from imsynth.data import load_dataset
    from imsynth.metrics.features import extract_features, load_feature_net
    from imsynth.metrics.generative import compare_features
    from imsynth.models import load_run
    from imsynth.runtime.classifier import SECOND
    from imsynth.runtime.tensors import save_tensor_grid

    model, saved = load_run(args.run, device="cpu")
    clipped = model
    unclipped, _ = load_run(args.run, device="cpu")
    unclipped.config = dataclasses.replace(unclipped.config, clip_denoised=False)
    config = model.config
    shape = model.noise_shape()  # an image's, or a latent family's latent's
    dataset = load_dataset(saved["data"]["name"], image_size=config.image_size)
    count = min(args.n, len(dataset.test_images))
    nets = {
        "first": load_feature_net(dataset.name)[0],
        "second": load_feature_net(dataset.name, architecture=SECOND)[0],
    }
    real = {key: extract_features(net, dataset.test_images[:count]) for key, net in nets.items()}
    print(
        f"{args.run} (step {saved.get('step')}), {count} samples vs {count} test images, {args.threads} threads, "
        f"torch {torch.__version__}, diffusers {diffusers.__version__}"
    )

    rows, grid = [], []
    grid_noise = next(noises(8, shape))[:8]

    def measure(label, make, evaluations):
        images, rate = draw(make, count, shape)
        scores = {key: compare_features(real[key], extract_features(net, images))["fid"] for key, net in nets.items()}
        rows.append(
            {
                "sampler": label,
                "evaluations": evaluations,
                "img_per_s": rate,
                **{f"fid_{k}": v for k, v in scores.items()},
            }
        )
        grid.append(make(grid_noise).clamp(-1, 1))
        print(
            f"{label:<24} evals {evaluations:>3}  FID {scores['first']:7.2f} / {scores['second']:6.2f}  "
            f"{rate:6.1f} img/s",
            flush=True,
        )

    for label, name, steps in ROWS:
        measure(label, ours(clipped, name, steps), clipped.sampler(name, steps).evaluations)
    for label, kind, steps in PEERS:
        mine = ours(unclipped, "dpm++2m" if kind == "dpm" else "unipc", steps)
        theirs = diffusers_loop(unclipped, kind, steps)
        first = next(noises(BATCH, shape))
        difference = float((mine(first).clamp(-1, 1) - theirs(first).clamp(-1, 1)).abs().max())
        print(f"  {label}: largest pixel difference from imsynth's (no clip) on one batch: {difference:.2e}")
        measure(label, theirs, steps)
        measure(label.replace("diffusers", "imsynth") + " no clip", mine, steps)
        rows[-1]["difference_from_diffusers"] = difference

    reference = rows[0]
    for row in rows:
        row["fid_first_vs_ddim50"] = row["fid_first"] / reference["fid_first"]
        row["fid_second_vs_ddim50"] = row["fid_second"] / reference["fid_second"]
    print("\nratios to ddim-50 (FID first / second network), img/s ratio to diffusers' same solver:")
    by_label = {row["sampler"]: row for row in rows}
    for row in rows:
        peer = by_label.get(row["sampler"].replace("imsynth", "diffusers").replace(" no clip", ""))
        speed = f"  speed {row['img_per_s'] / peer['img_per_s']:.2f}x diffusers" if peer and peer is not row else ""
        print(f"{row['sampler']:<28} {row['fid_first_vs_ddim50']:.3f} / {row['fid_second_vs_ddim50']:.3f}{speed}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"run": args.run, "step": saved.get("step"), "n": count, "threads": args.threads, "rows": rows}, indent=1
        )
    )
    save_tensor_grid(args.grid, torch.cat(grid), nrow=8, scale=2)
    print(f"wrote {args.out} and {args.grid} (rows: {', '.join(row['sampler'] for row in rows)})")


if __name__ == "__main__":
    main()
