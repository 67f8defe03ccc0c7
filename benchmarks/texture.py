"""Texture synthesis speed: seconds per output size for each method, from a 64x64 sample.

    python benchmarks/texture.py [--sizes 128 256 512] [--sheet docs/images/classical_texture.png]

Samples: scikit-image's bundled brick, grass and gravel textures (grey) and a crop of the coffee photograph
(RGB), each shrunk to 64x64. Efros-Leung grows one pixel at a time and is timed at 64x64 output only.
For reference (not run here): the Rust texture-synthesis project reports about 0.4 s for 200x200.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from skimage import data

from imsynth.classical.texture import efros_leung, multiscale_texture, quilt
from imsynth.image import to_float


def samples() -> dict[str, np.ndarray]:
    out = {}
    for name in ("brick", "grass", "gravel"):
        out[name] = cv2.resize(to_float(getattr(data, name)())[:128, :128], (64, 64), interpolation=cv2.INTER_AREA)
    out["coffee"] = cv2.resize(to_float(data.coffee())[150:278, 200:328], (64, 64), interpolation=cv2.INTER_AREA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--sheet")
    args = parser.parse_args()
    inputs = samples()
    methods = {
        "quilting": lambda s, n: quilt(s, (n, n), block=32),
        "multiscale": lambda s, n: multiscale_texture(s, (n, n)),
        "efros-leung": lambda s, n: efros_leung(s, (n, n)),
    }
    multiscale_texture(inputs["brick"], (32, 32))  # numba compilation, not timed
    print(f"{'method':<12}{'size':>6}" + "".join(f"{name:>9}" for name in inputs) + f"{'mean s':>9}")
    made = {}
    for method, function in methods.items():
        for size in [64] if method == "efros-leung" else args.sizes:
            times = []
            for name, sample in inputs.items():
                started = time.perf_counter()
                made[(method, name, size)] = function(sample, size)
                times.append(time.perf_counter() - started)
            print(f"{method:<12}{size:>6}" + "".join(f"{t:>9.3f}" for t in times) + f"{np.mean(times):>9.3f}")
    if args.sheet:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        size = 256 if 256 in args.sizes else args.sizes[0]
        columns = [
            ("sample", None, 64),
            ("quilting", "quilting", size),
            ("multiscale", "multiscale", size),
            ("efros-leung", "efros-leung", 64),
        ]
        figure, axes = plt.subplots(len(inputs), len(columns), figsize=(2.4 * len(columns), 2.4 * len(inputs)))
        for row, (name, sample) in enumerate(inputs.items()):
            for col, (title, method, n) in enumerate(columns):
                picture = sample if method is None else made[(method, name, n)]
                axes[row, col].imshow(np.clip(picture, 0, 1), cmap="gray", vmin=0, vmax=1)
                axes[row, col].set_title(f"{title} {n}px" if row == 0 else "", fontsize=9)
                axes[row, col].axis("off")
        figure.tight_layout()
        figure.savefig(args.sheet, dpi=80)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
