"""The studio's preloaded examples, so the first click on each tab does something: scikit-image's bundled
photographs (shipped with the package, no download) and a few made here (strokes, points, keyframes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import skimage.data

from ..classical.resample import resize
from ..image import save_image


def _save(folder: Path, name: str, pixels: np.ndarray) -> str:
    pixels = np.asarray(pixels)
    floats = pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else pixels.astype(np.float32)
    return str(save_image(folder / name, floats))


def write_examples(folder: Path) -> dict[str, str]:
    """Write the example files into ``folder``; returns name -> path (or JSON text for points/keyframes)."""
    folder.mkdir(parents=True, exist_ok=True)
    astronaut, camera, brick = skimage.data.astronaut(), skimage.data.camera(), skimage.data.brick()
    coffee, rocket = skimage.data.coffee(), skimage.data.rocket()
    strokes = np.zeros((512, 512, 4), dtype=np.uint8)
    yy, xx = np.mgrid[:512, :512]
    blot = ((xx - 330) / 46.0) ** 2 + ((yy - 120) / 30.0) ** 2 <= 1  # over the flag on the wall
    strokes[blot] = (255, 0, 64, 255)
    small = resize(astronaut.astype(np.float32) / 255, size=(192, 192), method="area")
    half = np.zeros((400, 400), dtype=np.float32)
    half[:, 200:] = 1.0
    examples = {
        "astronaut": _save(folder, "astronaut.png", astronaut),
        "astronaut_strokes": _save(folder, "strokes.png", strokes),
        "astronaut_small": _save(folder, "astronaut-192.png", small),
        "camera": _save(folder, "camera.png", camera),
        "camera_small": _save(folder, "camera-128.png", resize(camera.astype(np.float32) / 255, size=(128, 128))),
        "brick": _save(folder, "brick-96.png", brick[:96, :96]),
        "brick_small": _save(folder, "brick-64.png", brick[:64, :64]),
        "blend_a": _save(folder, "coffee.png", coffee[:, 100:500]),
        "blend_b": _save(folder, "rocket.png", rocket[:400, 120:520]),
        "blend_mask": _save(folder, "right-half.png", half),
        "morph_a": _save(folder, "morph-a.png", coffee[:, 100:500]),
        "morph_b": _save(folder, "morph-b.png", rocket[:400, 120:520]),
    }
    # a smile: the corners of the mouth move up, the centre stays, the frame is pinned
    frame = [[0, 0], [511, 0], [0, 511], [511, 511]]
    src = [*frame, [235, 255], [285, 255], [260, 262]]
    dst = [*frame, [228, 244], [292, 244], [260, 264]]
    examples["warp_points"] = json.dumps({"src": src, "dst": dst})
    rest = [[0, 0], [191, 0], [0, 191], [191, 191], [96, 60]]
    nod = [[0, 0], [191, 0], [0, 191], [191, 191], [96, 72]]
    examples["keyframes"] = json.dumps(
        {
            "points": rest,
            "keyframes": [{"t": 0, "points": rest}, {"t": 0.5, "points": nod}, {"t": 1, "points": rest}],
            "fps": 12,
            "warp": "mls-rigid",
        },
        indent=1,
    )
    return examples
