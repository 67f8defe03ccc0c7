"""Warps against straightforward and library implementations: seconds and peak memory.

    python benchmarks/warp.py [--sizes 512 1000 2000] [--points 16 64]

In one process, for RGB float32 images of each size and random control points (seeded):
- MLS rigid: imsynth (``warp(..., "mls-rigid")``, default grid 4 with exact evaluation near control points)
  against a straightforward per-pixel NumPy MLS (Schaefer et al.'s formulas over (pixels, points) arrays,
  the usual open-source implementation style) followed by the same cv2.remap;
- TPS: imsynth against scikit-image's ``ThinPlateSplineTransform`` + ``skimage.transform.warp``;
- mesh: imsynth's piecewise-affine warp against scikit-image's ``PiecewiseAffineTransform`` + ``warp``.
Peak memory is tracemalloc's peak of Python/NumPy allocations during the call. A peer is skipped at a size
when it took more than --peer-limit seconds at the previous size (its time would only grow).
Also: a 30-frame 512x512 mesh morph.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import cv2
import numpy as np

from imsynth.classical.animate import morph
from imsynth.classical.warp import warp


def measure(function):
    tracemalloc.start()
    started = time.perf_counter()
    function()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20


def naive_mls_rigid(image, src, dst):
    """Per-pixel rigid MLS in plain NumPy (inverse map: fit from dst to src), then cv2.remap."""
    height, width = image.shape[:2]
    p, q = dst.astype(np.float64), src.astype(np.float64)
    ys, xs = np.mgrid[0:height, 0:width]
    v = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)  # (M, 2)
    w = 1.0 / np.maximum(((v[:, None, :] - p[None]) ** 2).sum(-1), 1e-8)  # (M, N)
    wsum = w.sum(1, keepdims=True)
    pstar, qstar = (w @ p) / wsum, (w @ q) / wsum
    phat = p[None] - pstar[:, None]  # (M, N, 2)
    qhat = q[None] - qstar[:, None]
    phat_perp = np.stack([-phat[..., 1], phat[..., 0]], -1)
    vp = v - pstar
    vp_perp = np.stack([-vp[:, 1], vp[:, 0]], -1)
    # f_r(v) = |v - p*| * fvec / |fvec| + q*, fvec = sum_i qhat_i A_i
    a11 = (phat * vp[:, None]).sum(-1) * w
    a12 = (phat * -vp_perp[:, None]).sum(-1) * w
    a21 = (-phat_perp * vp[:, None]).sum(-1) * w
    a22 = (-phat_perp * -vp_perp[:, None]).sum(-1) * w
    fx = (qhat[..., 0] * a11 + qhat[..., 1] * a21).sum(1)
    fy = (qhat[..., 0] * a12 + qhat[..., 1] * a22).sum(1)
    norm = np.hypot(fx, fy) + 1e-12
    length = np.hypot(vp[:, 0], vp[:, 1])
    map_x = (length * fx / norm + qstar[:, 0]).reshape(height, width).astype(np.float32)
    map_y = (length * fy / norm + qstar[:, 1]).reshape(height, width).astype(np.float32)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)


def skimage_tps(image, src, dst):
    from skimage.transform import ThinPlateSplineTransform
    from skimage.transform import warp as skwarp

    transform = ThinPlateSplineTransform()
    transform.estimate(dst, src)  # skimage.warp wants the inverse map: output -> input coordinates
    return skwarp(image, transform, order=1)


def skimage_mesh(image, src, dst):
    from skimage.transform import PiecewiseAffineTransform
    from skimage.transform import warp as skwarp

    height, width = image.shape[:2]
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)
    transform = PiecewiseAffineTransform()
    transform.estimate(np.r_[dst, corners], np.r_[src, corners])
    return skwarp(image, transform, order=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1000, 2000])
    parser.add_argument("--points", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--peer-limit", type=float, default=20.0)
    parser.add_argument("--sheet", help="also write a picture sheet of warps and a morph strip here, and stop")
    args = parser.parse_args()
    if args.sheet:
        write_sheet(args.sheet)
        return
    rng = np.random.default_rng(0)
    pairs = {
        "mls-rigid": ("numpy-mls", naive_mls_rigid),
        "tps": ("skimage-tps", skimage_tps),
        "mesh": ("skimage-mesh", skimage_mesh),
    }
    print(
        f"{'method':<10}{'size':>6}{'pts':>5}{'ours s':>9}{'ours MB':>9}{'peer':>14}{'peer s':>9}{'peer MB':>9}{'speed-up':>10}"
    )
    slow_peers: set = set()
    for size in args.sizes:
        image = rng.random((size, size, 3), dtype=np.float32)
        for count in args.points:
            src = rng.uniform(0.1 * size, 0.9 * size, (count, 2))
            dst = src + rng.normal(0, 0.02 * size, (count, 2))
            for method, (peer, peer_function) in pairs.items():
                ours_s, ours_mb = measure(lambda: warp(image, method, src, dst))  # noqa: B023 (called at once)
                if (peer, count) in slow_peers:
                    print(f"{method:<10}{size:>6}{count:>5}{ours_s:>9.3f}{ours_mb:>9.0f}{peer:>14}{'skipped':>9}")
                    continue
                peer_s, peer_mb = measure(lambda: peer_function(image, src, dst))  # noqa: B023 (called at once)
                if peer_s > args.peer_limit:
                    slow_peers.add((peer, count))
                print(
                    f"{method:<10}{size:>6}{count:>5}{ours_s:>9.3f}{ours_mb:>9.0f}{peer:>14}{peer_s:>9.3f}"
                    f"{peer_mb:>9.0f}{peer_s / ours_s:>9.1f}x"
                )
    a = rng.random((512, 512, 3), dtype=np.float32)
    b = rng.random((512, 512, 3), dtype=np.float32)
    points_a = rng.uniform(50, 460, (20, 2))
    points_b = points_a + rng.normal(0, 10, (20, 2))
    seconds, megabytes = measure(lambda: morph(a, b, frames=30, method="mesh", points_a=points_a, points_b=points_b))
    print(f"30-frame 512x512 mesh morph (20 points): {seconds:.2f} s, peak {megabytes:.0f} MB")


def write_sheet(path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage import data

    from imsynth.image import to_float

    image = to_float(data.astronaut())[::2, ::2].copy()  # 256x256
    src = np.array([[90, 60], [165, 60], [128, 110], [95, 150], [160, 150], [40, 240], [215, 240]], float)
    dst = src + np.array([[-8, -14], [8, -14], [0, 6], [-10, 8], [10, 8], [0, 0], [0, 0]], float)
    panels = [("original (src points)", image, src)]
    for method in ("similarity", "tps", "mls-rigid", "mls-affine", "mesh"):
        panels.append((method, warp(image, method, src, dst), dst))
    panels.append(("swirl", warp(image, "swirl", strength=6, radius=120), None))
    panels.append(("elastic (seed 0)", warp(image, "elastic", strength=4, sigma=6), None))
    b = to_float(data.chelsea())[:, 75:375]  # 300x300 cat; resized to A's size by morph
    points_a = np.array([[95, 95], [160, 95], [128, 140], [128, 175], [60, 60], [196, 60]], float)
    points_b = np.array([[105, 115], [185, 105], [150, 160], [150, 190], [60, 20], [230, 20]], float) * (300 / 256)
    frames = morph(image, b, frames=7, method="mesh", points_a=points_a, points_b=points_b)
    figure, axes = plt.subplots(2, 8, figsize=(17, 4.6))
    for axis, (title, picture, points) in zip(axes[0], panels):
        axis.imshow(np.clip(picture, 0, 1))
        if points is not None:
            axis.scatter(points[:, 0], points[:, 1], s=8, c="yellow")
        axis.set_title(title, fontsize=9)
    for index, (axis, frame) in enumerate(zip(axes[1], frames + [None])):
        if frame is not None:
            axis.imshow(np.clip(frame, 0, 1))
            axis.set_title(f"mesh morph {index}/6", fontsize=9)
    for axis in axes.ravel():
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
