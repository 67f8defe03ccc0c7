"""Classical inpainting: each imsynth method against OpenCV (Telea, Navier-Stokes) and scikit-image (biharmonic).

    pip install opencv-python-headless scikit-image     # both already imsynth dependencies
    python benchmarks/inpaint.py [--size 256] [--sheet docs/images/classical_inpaint.png]

Images: scikit-image's bundled photographs and textures (astronaut, coffee, brick, grass, gravel), centre-cropped
to --size. Masks (seeded): ``box`` (one square, 5% of the image), ``strokes`` (thick random line segments, ~6%),
``scatter`` (30% of single pixels). For each method, averaged over images, inside the hole only:

- texture distance (lower is better): Wasserstein-1 distance between the fill's and the true content's
  distributions of gradient magnitude, plus the same for each colour channel's values;
- PSNR (dB) and SSIM (the SSIM map averaged over hole pixels), which reward smooth fills;
- seconds per image.

Also the 512x512 RGB timing target: PatchMatch and exemplar on the astronaut with a 5% box hole.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from scipy.stats import wasserstein_distance
from skimage import data
from skimage.metrics import structural_similarity
from skimage.restoration import inpaint_biharmonic

from imsynth.apps.inpaint import inpaint_array
from imsynth.classical.inpainting import INPAINTING
from imsynth.errors import InputError
from imsynth.image import to_float

CLASSICAL_METHODS = list(INPAINTING.names())
IMAGES = ("astronaut", "coffee", "brick", "grass", "gravel")


def load(name: str, size: int) -> np.ndarray:
    image = to_float(getattr(data, name)())
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size, :3])


def masks(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    box = np.zeros((size, size), bool)
    side = int(round(size * np.sqrt(0.05)))
    top, left = (size - side) // 2 + size // 8, (size - side) // 2 - size // 10
    box[top : top + side, left : left + side] = True
    strokes = np.zeros((size, size), np.uint8)
    while strokes.mean() < 0.06:
        start = rng.integers(size // 8, size - size // 8, 2)
        end = np.clip(start + rng.integers(-size // 4, size // 4, 2), 0, size - 1)
        cv2.line(strokes, tuple(int(v) for v in start), tuple(int(v) for v in end), 1, max(2, size // 40))
    scatter = rng.random((size, size)) < 0.3
    return {"box": box, "strokes": strokes > 0, "scatter": scatter}


def texture_distance(fill: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    def gradient_magnitude(image):
        grey = image.mean(axis=2).astype(np.float32)
        return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))

    distance = wasserstein_distance(gradient_magnitude(fill)[hole], gradient_magnitude(truth)[hole])
    for channel in range(truth.shape[2]):
        distance += wasserstein_distance(fill[..., channel][hole], truth[..., channel][hole])
    return float(distance)


def hole_scores(fill, truth, hole) -> tuple[float, float]:
    mse = float(np.mean((fill[hole] - truth[hole]) ** 2))
    psnr = 10 * np.log10(1 / max(mse, 1e-12))
    _, ssim_map = structural_similarity(truth, fill, channel_axis=2, data_range=1.0, full=True)
    return psnr, float(ssim_map.mean(axis=2)[hole].mean())


def peers() -> dict:
    def opencv(flag):
        def run(image, hole):
            filled = cv2.inpaint((image * 255).round().astype(np.uint8), hole.astype(np.uint8), 3, flag)
            return np.where(hole[:, :, None], filled.astype(np.float32) / 255, image)

        return run

    return {
        "opencv-telea": opencv(cv2.INPAINT_TELEA),
        "opencv-ns": opencv(cv2.INPAINT_NS),
        "skimage-biharmonic": lambda image, hole: inpaint_biharmonic(image, hole, channel_axis=2).astype(np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sheet", help="write a picture sheet (inputs, masks, each method's output) here")
    args = parser.parse_args()
    methods = {
        name: (lambda n: lambda image, hole: inpaint_array(image, hole, method=n))(name) for name in CLASSICAL_METHODS
    }
    methods.update(peers())
    images = {name: load(name, args.size) for name in IMAGES}
    holes = masks(args.size)
    for function in methods.values():  # warm-up (numba compilation)
        function(images["brick"][:64, :64], holes["box"][:64, :64] | False)
    print(
        f"{len(IMAGES)} images at {args.size}x{args.size}, hole share: "
        + ", ".join(f"{k} {v.mean():.1%}" for k, v in holes.items())
    )
    results: dict = {}
    sheet_rows = []
    for mask_name, hole in holes.items():
        print(f"\nmask {mask_name}: mean over images (texture distance lower is better)")
        print(f"{'method':<20}{'texture':>9}{'PSNR dB':>9}{'SSIM':>7}{'s/image':>9}")
        for method, function in methods.items():
            scores = []
            for name, image in images.items():
                started = time.perf_counter()
                try:
                    fill = function(image, hole)
                except InputError as refused:  # e.g. exemplar methods when no patch is fully known
                    print(f"{method:<20}  n/a: {refused}")
                    break
                seconds = time.perf_counter() - started
                assert np.array_equal(fill[~hole], image[~hole]) or method.startswith("opencv"), method
                scores.append((texture_distance(fill, image, hole), *hole_scores(fill, image, hole), seconds))
                if args.sheet and mask_name == "box" and name == "grass":
                    sheet_rows.append((method, fill))
            if len(scores) < len(images):
                continue
            mean = np.mean(scores, axis=0)
            results[(mask_name, method)] = mean
            print(f"{method:<20}{mean[0]:>9.4f}{mean[1]:>9.2f}{mean[2]:>7.3f}{mean[3]:>9.3f}")
        best_peer = min((results[(mask_name, p)][0], p) for p in peers())
        ours = min((results[(mask_name, m)][0], m) for m in CLASSICAL_METHODS if (mask_name, m) in results)
        print(
            f"best texture distance: imsynth {ours[1]} {ours[0]:.4f} vs best peer {best_peer[1]} {best_peer[0]:.4f}"
            f" -> {ours[0] / best_peer[0]:.2f}x"
        )
    big = load("astronaut", 512)
    box = masks(512)["box"]
    for method in ("patchmatch", "exemplar"):
        started = time.perf_counter()
        inpaint_array(big, box, method=method)
        print(f"512x512 RGB, {box.mean():.1%} box hole: {method} {time.perf_counter() - started:.2f} s")
    if args.sheet:
        write_sheet(args.sheet, images["grass"], holes["box"], sheet_rows)


def write_sheet(path, image, hole, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("original", image), ("masked", np.where(hole[:, :, None], 0.0, image))] + rows
    columns = 6
    figure, axes = plt.subplots(
        -(-len(panels) // columns), columns, figsize=(2.2 * columns, 2.4 * -(-len(panels) // columns))
    )
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (title, picture) in zip(axes.ravel(), panels):
        axis.imshow(np.clip(picture, 0, 1))
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
