"""The per-step x_0 clamp (`clip_denoised`) off, for the samplers of benchmarks/samplers.py on the same run and
the same initial noises: the figures behind the clamp table of docs/benchmarks.md ("Few-step samplers").

    python benchmarks/samplers_clamp.py runs/ddpm30 [--n 5000] [--threads 1]

Prints FID under both shipped networks and img/s for ddim-50, ddim-10 and euler-10 with the clamp off (the
clamped figures, and dpm++2m/unipc without it, are benchmarks/samplers.py's).
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from samplers import draw, ours

from imsynth.data import load_dataset
from imsynth.metrics.features import extract_features, load_feature_net
from imsynth.metrics.generative import compare_features
from imsynth.models import load_run
from imsynth.runtime.classifier import SECOND

ROWS = [("ddim", 50), ("ddim", 10), ("euler", 10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, saved = load_run(args.run, device="cpu")
    model.config = dataclasses.replace(model.config, clip_denoised=False)
    config = model.config
    shape = (config.channels, config.image_size, config.image_size)
    dataset = load_dataset(saved["data"]["name"], image_size=config.image_size)
    count = min(args.n, len(dataset.test_images))
    nets = {
        "first": load_feature_net(dataset.name)[0],
        "second": load_feature_net(dataset.name, architecture=SECOND)[0],
    }
    real = {key: extract_features(net, dataset.test_images[:count]) for key, net in nets.items()}
    for name, steps in ROWS:
        images, rate = draw(ours(model, name, steps), count, shape)
        fid = {key: compare_features(real[key], extract_features(net, images))["fid"] for key, net in nets.items()}
        print(f"{name}-{steps} no clip: FID {fid['first']:.2f} / {fid['second']:.2f}  {rate:.1f} img/s", flush=True)


if __name__ == "__main__":
    main()
