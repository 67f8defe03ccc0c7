"""Laplacian pyramids and multiband blending against OpenCV's pyrDown/pyrUp, with reconstruction error.

    python benchmarks/pyramid.py [--repeat 5]

For each size (odd ones included), in one process: build a Laplacian pyramid and reconstruct it with
imsynth, and the same with a plain OpenCV loop (pyrDown, then pyrUp to the exact size); the max absolute
reconstruction error of ours; a multiband blend of two RGB images (imsynth ``blend``) against the same blend
written with OpenCV calls. Times are the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from imsynth.classical.pyramid import blend, laplacian_pyramid, max_levels, reconstruct


def opencv_laplacian(image, levels):
    gaussian = [image]
    for _ in range(levels - 1):
        gaussian.append(cv2.pyrDown(gaussian[-1]))
    bands = [
        fine - cv2.pyrUp(coarse, dstsize=(fine.shape[1], fine.shape[0]))
        for fine, coarse in zip(gaussian[:-1], gaussian[1:])
    ]
    return bands + [gaussian[-1]]


def opencv_reconstruct(bands):
    image = bands[-1]
    for band in reversed(bands[:-1]):
        image = cv2.pyrUp(image, dstsize=(band.shape[1], band.shape[0])) + band
    return image


def opencv_blend(a, b, weights, levels):
    weight_levels = [weights]
    for _ in range(levels - 1):
        weight_levels.append(cv2.pyrDown(weight_levels[-1]))
    mixed = [
        la + w[:, :, None] * (lb - la)
        for la, lb, w in zip(opencv_laplacian(a, levels), opencv_laplacian(b, levels), weight_levels)
    ]
    return np.clip(opencv_reconstruct(mixed), 0, 1)


def median_time(function, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'size':>11}{'levels':>7}{'ours s':>9}{'opencv s':>10}{'ratio':>7}{'max recon error':>17}")
    for height, width in ((257, 257), (512, 512), (1023, 769), (1024, 1024), (2048, 2048)):
        image = rng.random((height, width, 3), dtype=np.float32)
        levels = max_levels(image.shape)
        ours = median_time(lambda: reconstruct(laplacian_pyramid(image, levels)), args.repeat)  # noqa: B023 (called at once)
        theirs = median_time(lambda: opencv_reconstruct(opencv_laplacian(image, levels)), args.repeat)  # noqa: B023 (called at once)
        error = float(np.abs(reconstruct(laplacian_pyramid(image, levels)) - image).max())
        print(f"{height:>5}x{width:<5}{levels:>7}{ours:>9.4f}{theirs:>10.4f}{ours / theirs:>7.2f}{error:>17.2e}")
    a = rng.random((1024, 1024, 3), dtype=np.float32)
    b = rng.random((1024, 1024, 3), dtype=np.float32)
    mask = np.zeros((1024, 1024), bool)
    mask[:, 512:] = True
    ours = median_time(lambda: blend(a, b, mask, 6), args.repeat)
    theirs = median_time(lambda: opencv_blend(a, b, mask.astype(np.float32), 6), args.repeat)
    difference = float(np.abs(blend(a, b, mask, 6) - opencv_blend(a, b, mask.astype(np.float32), 6)).max())
    print(
        f"blend 1024x1024 RGB, 6 levels: ours {ours:.4f} s, opencv {theirs:.4f} s -> {ours / theirs:.2f}x "
        f"(max difference {difference:.1e})"
    )


if __name__ == "__main__":
    main()
