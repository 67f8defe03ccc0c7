"""Rate-distortion of imsynth's codecs against JPEG, WebP, AVIF, JPEG 2000 and JPEG XL, from real file sizes.

    pip install bjontegaard pillow-jxl-plugin     # optional: the BD cross-check and JPEG XL
    python benchmarks/compression.py --fmnist runs/fm-factorized runs/fm-hyperprior runs/fm-vae \\
        --photos runs/photo-factorized runs/photo-hyperprior

Three test sets, every codec on the same images:
- Fashion-MNIST test images as one file each (28x28: headers dominate, so the smallest file of each codec is
  printed);
- 10x10 mosaics of Fashion-MNIST test images (280x280), the next images of the test split;
- photographs that no codec was trained on, at full size: scikit-image's astronaut, coffee, chelsea, rocket
  and the left motorcycle image.
bpp is 8 x file bytes / pixels, headers included, averaged over images; PSNR (dB, on 8-bit values) and SSIM are
averaged over images. BD-rate/BD-PSNR (imsynth.metrics.rate_distortion, pchip; the `bjontegaard` package's
number printed beside it when installed) compare each imsynth codec with each peer; negative BD-rate = fewer
bits. Also checked on every imsynth file: payload bits against the model's rate estimate. Writes
docs/results/compression.json and docs/images/rd_curves.png.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from imsynth.apps.compress import load_codec, parse
from imsynth.data import load_dataset
from imsynth.data.photos import held_out_photos, shrunk
from imsynth.metrics.rate_distortion import bd_psnr, bd_rate, psnr_ssim

try:
    import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow)

    HAVE_JXL = True
except ImportError:
    HAVE_JXL = False

PEERS = {
    "jpeg": (
        [5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95],
        lambda q: {"format": "JPEG", "quality": q, "optimize": True},
    ),
    "webp": (
        [0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100],
        lambda q: {"format": "WEBP", "quality": q, "method": 6},
    ),
    "avif": ([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95], lambda q: {"format": "AVIF", "quality": q, "speed": 4}),
    # JPEG 2000 as a bare codestream (no JP2 box), quality by target PSNR (OpenJPEG's rate mode gives one
    # setting for every ratio on 28x28 images)
    "jpeg2000": (
        [18, 22, 25, 28, 31, 34, 37, 40, 44, 48],
        lambda db: {
            "format": "JPEG2000",
            "quality_mode": "dB",
            "quality_layers": [db],
            "irreversible": True,
            "no_jp2": True,
        },
    ),
}
if HAVE_JXL:
    PEERS["jxl"] = ([5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95], lambda q: {"format": "JXL", "quality": q, "effort": 7})


def pillow_round_trip(image: np.ndarray, options: dict) -> tuple[int, np.ndarray]:
    uint8 = np.round(image * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(uint8).save(buffer, **options)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        decoded = decoded.convert("L" if image.ndim == 2 else "RGB")
        return len(buffer.getvalue()), np.asarray(decoded).astype(np.float32) / 255


def measure(images: list[np.ndarray], round_trip) -> dict:
    """Mean bpp (file bytes), PSNR and SSIM of one codec setting over images."""
    bpp, psnr, ssim, smallest = [], [], [], None
    for image in images:
        size, decoded = round_trip(image)
        decoded = np.round(decoded * 255) / 255  # every codec's output as the 8-bit image a user would save
        p, s = psnr_ssim(image, decoded)
        bpp.append(8 * size / (image.shape[0] * image.shape[1]))
        psnr.append(p)
        ssim.append(s)
        smallest = size if smallest is None else min(smallest, size)
    return {
        "bpp": float(np.mean(bpp)),
        "psnr": float(np.mean(psnr)),
        "ssim": float(np.nanmean(ssim)),
        "min_bytes": smallest,
    }


def imsynth_points(run: str, images: list[np.ndarray], checks: list, label: str) -> list[dict]:
    codec = load_codec(run, device="cpu")
    points = []
    for quality in range(1, codec.qualities + 1):

        def round_trip(image, quality=quality):
            data, estimate = codec.encode_with_estimate(image, quality)
            payload = len(parse(data)[1])
            checks.append((estimate, 8 * payload, len(data) - payload, label))
            return len(data), codec.decode(data)

        points.append({"quality": quality, **measure(images, round_trip)})
    return points


def peer_points(name: str, images: list[np.ndarray]) -> list[dict]:
    settings, options = PEERS[name]
    return [
        {"quality": q, **measure(images, lambda image, q=q: pillow_round_trip(image, options(q)))} for q in settings
    ]


def fashion_sets(count: int, mosaics: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    test = load_dataset("fashion-mnist").test_images[:, 0].numpy().astype(np.float32) / 255
    singles = list(test[:count])
    rest = test[count : count + 100 * mosaics].reshape(mosaics, 10, 10, 28, 28)
    tiles = [m.transpose(0, 2, 1, 3).reshape(280, 280) for m in rest]
    return singles, tiles


def prepare_mosaics(path: str, seed: int = 0) -> None:
    """2x2 mosaics of random Fashion-MNIST items: the layout of the benchmark's mosaics (items side by side, every
    second one off the codec's 8-pixel grid), four times as many as images in each split."""
    data = load_dataset("fashion-mnist")
    rng = np.random.default_rng(seed)
    splits = {}
    for split, images in (("train", data.train_images), ("test", data.test_images)):
        picks = rng.integers(0, len(images), (len(images), 2, 2))
        tiles = images[:, 0].numpy()[picks]  # N, 2, 2, 28, 28
        splits[split] = tiles.transpose(0, 1, 3, 2, 4).reshape(len(images), 56, 56)
    np.savez_compressed(path, images=splits["train"], images_test=splits["test"])
    print(f"wrote {path}: {len(splits['train'])} train and {len(splits['test'])} test mosaics, 56x56")


def photographs(held_out: int = 0) -> dict[str, np.ndarray]:
    """scikit-image's five at full size; with ``held_out`` > 0 also the photographs the ``photos`` dataset keeps
    out of training (data.photos.held_out_photos), shrunk to that short side."""
    pictures = {
        "astronaut": skdata.astronaut(),
        "coffee": skdata.coffee(),
        "chelsea": skdata.chelsea(),
        "rocket": skdata.rocket(),
        "motorcycle": skdata.stereo_motorcycle()[0],
    }
    for path in held_out_photos() if held_out else []:
        pictures[path.parent.parent.parent.name if path.stem == "2560x1600" else path.stem] = shrunk(path, (held_out,))[
            0
        ]
    return {name: picture.astype(np.float32) / 255 for name, picture in pictures.items()}


def summarise(curves: dict[str, list[dict]], ours: list[str]) -> dict:
    try:
        import bjontegaard

        package = bjontegaard
    except ImportError:
        package = None
    table = {}
    for mine in ours:
        rate, psnr = [p["bpp"] for p in curves[mine]], [p["psnr"] for p in curves[mine]]
        for peer, points in curves.items():
            if peer in ours and peer == mine:
                continue
            peer_rate, peer_psnr = [p["bpp"] for p in points], [p["psnr"] for p in points]
            try:
                row = {
                    "bd_rate_percent": round(bd_rate(peer_rate, peer_psnr, rate, psnr), 2),
                    "bd_psnr_db": round(bd_psnr(peer_rate, peer_psnr, rate, psnr), 3),
                }
            except Exception as error:
                row = {"error": str(error)}
            if package is not None and "error" not in row:
                try:
                    row["bjontegaard_pkg_bd_rate"] = round(
                        float(package.bd_rate(peer_rate, peer_psnr, rate, psnr, method="pchip")), 2
                    )
                except Exception as error:
                    row["bjontegaard_pkg_bd_rate"] = f"failed: {error}"
            table[f"{mine} vs {peer}"] = row
    return table


def at_rate(points: list[dict], bpp: float) -> float | None:
    """PSNR interpolated at ``bpp`` (linear in log-rate), None outside the curve."""
    rates = np.array([p["bpp"] for p in points])
    psnr = np.array([p["psnr"] for p in points])
    order = np.argsort(rates)
    rates, psnr = rates[order], psnr[order]
    if not rates[0] <= bpp <= rates[-1]:
        return None
    return float(np.interp(np.log(bpp), np.log(rates), psnr))


def speed(run: str, image: np.ndarray, repeats: int = 3) -> dict:
    codec = load_codec(run, device="cpu")
    codec.decode(codec.encode(image))
    encode, decode = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        stream = codec.encode(image)
        encode.append(time.perf_counter() - started)
        started = time.perf_counter()
        codec.decode(stream)
        decode.append(time.perf_counter() - started)
    return {
        "encode_s": round(min(encode), 3),
        "decode_s": round(min(decode), 3),
        "total_s": round(min(encode) + min(decode), 3),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [name for name in ("fashion_single", "fashion_mosaic", "photos") if name in results["sets"]]
    figure, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4.5), squeeze=False)
    for axis, name in zip(axes[0], sets):
        for codec, points in results["sets"][name]["curves"].items():
            style = "-o" if codec.startswith("imsynth") else "--."
            axis.plot([p["bpp"] for p in points], [p["psnr"] for p in points], style, label=codec, markersize=4)
        axis.set_xscale("log")
        axis.set_xlabel("bits per pixel (file size, headers included)")
        axis.set_ylabel("PSNR (dB)")
        axis.set_title(results["sets"][name]["title"])
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--fmnist", nargs="*", default=[], help="grey codec runs (factorized/hyperprior/VAE) for Fashion-MNIST"
    )
    parser.add_argument("--photos", nargs="*", default=[], help="RGB codec runs for the photographs")
    parser.add_argument("--n", type=int, default=200, help="Fashion-MNIST images coded one file each")
    parser.add_argument("--mosaics", type=int, default=20, help="10x10 Fashion-MNIST mosaics")
    parser.add_argument(
        "--prepare-mosaics", metavar="NPZ", help="write 2x2 Fashion-MNIST mosaics (56x56) to train on, and stop"
    )
    parser.add_argument("--plot-only", nargs="+", metavar="JSON", help="merge result files into one figure, and stop")
    parser.add_argument("--no-speed", action="store_true", help="skip the 512x512 timing (time it on an idle machine)")
    parser.add_argument(
        "--held-out",
        type=int,
        default=0,
        metavar="SIDE",
        help="add the photos set's held-out photographs at this short side",
    )
    parser.add_argument("--out", default="docs/results/compression.json")
    parser.add_argument("--figure", default="docs/images/rd_curves.png")
    args = parser.parse_args()
    if args.prepare_mosaics:
        prepare_mosaics(args.prepare_mosaics)
        return
    if args.plot_only:
        merged = {"sets": {}}
        for path in args.plot_only:
            merged["sets"].update(json.loads(Path(path).read_text())["sets"])
        plot(merged, Path(args.figure))
        print(f"wrote {args.figure}")
        return

    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "peers": list(PEERS),
        "sets": {},
    }
    sets = {}
    if args.fmnist:
        singles, mosaics = fashion_sets(args.n, args.mosaics)
        sets["fashion_single"] = (f"Fashion-MNIST, {args.n} test images, one 28x28 file each", singles, args.fmnist)
        sets["fashion_mosaic"] = (f"Fashion-MNIST, {args.mosaics} 10x10 mosaics (280x280)", mosaics, args.fmnist)
    if args.photos:
        pictures = photographs(args.held_out)
        sets["photos"] = (
            f"{len(pictures)} photographs not trained on"
            + (" (scikit-image's 5, the photos set's held out)" if args.held_out else " (scikit-image)"),
            list(pictures.values()),
            args.photos,
        )
    for key, (title, images, runs) in sets.items():
        curves, checks = {}, []
        ours = []
        for run in runs:
            label = f"imsynth {Path(run).name}"
            started = time.perf_counter()
            curves[label] = imsynth_points(run, images, checks, label)
            ours.append(label)
            print(f"{key}: {label} {time.perf_counter() - started:.1f} s", flush=True)
        for peer in PEERS:
            curves[peer] = peer_points(peer, images)
            print(f"{key}: {peer} done", flush=True)
        file_checks = {}
        for label in ours:
            rows = [c for c in checks if c[3] == label]
            estimate, payload = np.array([c[0] for c in rows]), np.array([c[1] for c in rows])
            over = payload - estimate
            file_checks[label] = {
                "files": len(rows),
                "header_bytes": sorted({int(c[2]) for c in rows}),
                "max_payload_excess_bits": round(float(over.max()), 1),
                "max_payload_excess_percent_of_estimate": round(float((over / estimate).max() * 100), 3),
                "files_within_1_percent": int((over <= 0.01 * estimate).sum()),
                "files_within_1_percent_plus_64_bits": int((over <= 0.01 * estimate + 64).sum()),
                "min_payload_excess_bits": round(float(over.min()), 1),
            }
        results["sets"][key] = {
            "title": title,
            "images": len(images),
            "curves": curves,
            "bd": summarise(curves, ours),
            "psnr_at_0.5_bpp": {name: at_rate(points, 0.5) for name, points in curves.items()},
            "smallest_file_bytes": {name: min(p["min_bytes"] for p in points) for name, points in curves.items()},
            "file_vs_estimate": file_checks,
        }
        print(
            json.dumps(
                {key: {"bd": results["sets"][key]["bd"], "file_vs_estimate": results["sets"][key]["file_vs_estimate"]}},
                indent=1,
            ),
            flush=True,
        )
    if args.photos and not args.no_speed:
        astronaut = photographs()["astronaut"]
        results["speed_512x512_rgb"] = {Path(run).name: speed(run, astronaut) for run in args.photos}
        print(json.dumps({"speed_512x512_rgb": results["speed_512x512_rgb"]}), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    plot(results, Path(args.figure))
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
