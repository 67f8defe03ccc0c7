"""Style transfer without pretrained networks on scikit-image's photographs, with textures as the style.

    python benchmarks/style.py [--size 256]

For each content photograph (astronaut, coffee, chelsea) and style texture (scikit-image's brick, gravel and
grass, and a crop of the rocket photo's sky-and-smoke), both methods run at SIZE x SIZE. Printed per pair:
seconds, and on random features of another seed than the optimisation's (imsynth.apps.stylize.style_report) the
Gram distance to the style (result vs the content image: the factor it fell) and the content-feature distance
(result vs the style image's). Targets (issue 14): the style distance falls >= 5x, the content distance stays
below the style image's, 256x256 within 20 s (gram) and 2 s (quilt) on 2 cores. Writes docs/images/style_grid.png
and docs/results/style.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from skimage import data, transform

from imsynth.apps.stylize import style_report, stylize


def square(image: np.ndarray, size: int) -> np.ndarray:
    image = image.astype(np.float32) / (255 if image.dtype == np.uint8 else 1)
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return transform.resize(image[top : top + side, left : left + side], (size, size), anti_aliasing=True).astype(
        np.float32
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default="docs/results/style.json")
    parser.add_argument("--figure", default="docs/images/style_grid.png")
    args = parser.parse_args()
    contents = {name: square(getattr(data, name)(), args.size) for name in ("astronaut", "coffee", "chelsea")}
    grey = {name: getattr(data, name)() for name in ("brick", "gravel", "grass")}
    styles = {name: np.repeat(square(image, 192)[:, :, None], 3, axis=2) for name, image in grey.items()}
    styles["rocket-smoke"] = square(data.rocket()[200:427, 150:450], 192)
    rows, results = [], []
    for content_name, content in contents.items():
        row = [content]
        for style_name, style in styles.items():
            for method in ("gram", "quilt"):
                options = {}
                started = time.perf_counter()
                result, _ = stylize(content, style, method_name=method, device="cpu", **options)
                seconds = time.perf_counter() - started
                report = style_report(result, content, style)
                fall = report["content"]["style_distance"] / max(report["result"]["style_distance"], 1e-12)
                entry = {
                    "content": content_name,
                    "style": style_name,
                    "method": method,
                    "seconds": round(seconds, 2),
                    "style_distance_fell_x": round(fall, 2),
                    "content_distance": round(report["result"]["content_distance"], 4),
                    "style_image_content_distance": round(report["style"]["content_distance"], 4),
                }
                entry["targets_met"] = bool(
                    fall >= 5
                    and entry["content_distance"] < entry["style_image_content_distance"]
                    and seconds <= (20 if method == "gram" else 2)
                )
                results.append(entry)
                print(json.dumps(entry), flush=True)
                if content_name == "astronaut" or style_name == "brick":
                    row.append(np.clip(result, 0, 1))
        rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    width = max(len(r) for r in rows)
    grid = np.ones((len(rows) * args.size, width * args.size, 3), np.float32)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            image = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
            grid[r * args.size : (r + 1) * args.size, c * args.size : (c + 1) * args.size] = transform.resize(
                image, (args.size, args.size)
            )
    from imsynth.image import save_image

    save_image(args.figure, grid)
    met = sum(e["targets_met"] for e in results)
    print(f"targets met on {met} of {len(results)} pairs; wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main()
