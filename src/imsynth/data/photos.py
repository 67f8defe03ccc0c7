"""Natural photographs for codecs and restoration: random crops at (near) native resolution.

``crops:PATH`` cuts random square crops from every photograph under a folder; ``photos`` does so from the
photographs (not the artwork) that Debian's wallpaper packages ship, plus scikit-learn's two sample photographs.
Each photograph is cut at several scales: its short side shrunk to each of ``SHORT_SIDES`` (never enlarged),
``crops_per_photo`` crops spread over the scales. Forty photographs are few: a codec trained on crops of one
scale learnt those photographs (40 dB on its training crops, 30 dB on held-out ones); scales multiply the
distinct content and cover both the smooth look of a shrunk wallpaper and the pixel-level texture of a
camera image. Whole photographs are held out for the test split, so no test crop overlaps a training one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from ..image import image_files
from .base import DatasetSpec, ImageDataset, register

SHORT_SIDES = (640, 1280, 2560)
DEFAULT_CROP = 128

# The photographs among the images of Debian's wallpaper packages (the rest are drawings and renders),
# each package's licence in /usr/share/doc/PACKAGE/copyright (CC-BY-SA / CC-BY / GPL).
_PHOTO_FOLDERS = {
    "lomiri-wallpapers-16.04": (
        "/usr/share/backgrounds",
        "Bridge_by_Sander_Klootwijk.jpg Dragonfly_by_Bolly.jpg Picture_0B_by_freespace.jpg "
        "Picture_1A_by_freespace.jpg Wine_by_Jakkub_Mede.jpg aitzgorri_by_Aitzol_Berasategi.jpg "
        "analogpattern_by_Peter_Nerlich.jpg free_by_Peter_Nerlich.jpg friends_by_Aitzol_Berasategi.jpg "
        "greentock_by_Peter_Nerlich.jpg life_by_Aitzol_Berasategi.jpg picosdeeuropa_by_Aitzol_Berasategi.jpg "
        "seeding_by_Clements_Engelhardt.jpg sunset_by_Aitzol_Berasategi.jpg",
    ),
    "lomiri-wallpapers-20.04": ("/usr/share/backgrounds", "Kleiber_by_Lukas_Baubkus.jpg"),
    "mate-backgrounds": (
        "/usr/share/backgrounds/mate/nature",
        "Aqua.jpg Blinds.jpg Dune.jpg FreshFlower.jpg Garden.jpg GreenMeadow.jpg LadyBird.jpg RainDrops.jpg "
        "Storm.jpg TwoWings.jpg Wood.jpg YellowFlower.jpg",
    ),
    "plasma-workspace-wallpapers": (
        "/usr/share/wallpapers",
        "BytheWater/contents/images/2560x1600.jpg ColdRipple/contents/images/2560x1600.jpg "
        "ColorfulCups/contents/images/2560x1600.jpg DarkestHour/contents/images/2560x1600.jpg "
        "EveningGlow/contents/images/2560x1600.jpg FallenLeaf/contents/images/2560x1600.jpg "
        "Grey/contents/images/2560x1600.jpg Kite/contents/images/2560x1600.jpg "
        "OneStandsOut/contents/images/2560x1600.jpg Path/contents/images/2560x1600.jpg "
        "Volna/contents/images/5120x2880.jpg summer_1am/contents/images/2560x1600.jpg",
    ),
}
PHOTOGRAPHS = tuple(
    (package, Path(folder) / name) for package, (folder, names) in _PHOTO_FOLDERS.items() for name in names.split()
)


def debian_photos() -> list[Path]:
    return [path for _, path in PHOTOGRAPHS if path.is_file()]


def photo_files() -> list[Path]:
    """The Debian photographs present here, then scikit-learn's two sample photographs (china, flower)."""
    spec = importlib.util.find_spec("sklearn")  # its folder, without the second it takes to import
    bundled = sorted((Path(spec.origin).parent / "datasets" / "images").glob("*.jpg")) if spec and spec.origin else []
    return debian_photos() + bundled


def photos_where() -> str:
    found = len(debian_photos())
    packages = " ".join(_PHOTO_FOLDERS)
    return f"{found} of {len(PHOTOGRAPHS)} photographs found; get them with: apt-get install {packages}"


def shrunk(path: Path, short_sides=SHORT_SIDES) -> list[np.ndarray]:
    """A photograph as uint8 HxWx3 arrays, its short side shrunk to each of ``short_sides`` (never enlarged; a
    side the photograph does not reach gives it at full size once)."""
    try:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            levels, full = [], False
            for side in short_sides:
                scale = side / min(picture.size)
                if scale < 1:
                    size = (round(picture.width * scale), round(picture.height * scale))
                    levels.append(np.asarray(picture.resize(size, Image.Resampling.LANCZOS)))
                elif not full:
                    levels.append(np.asarray(picture))
                    full = True
            return levels
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from None


def held_out_indices(count: int, test_every: int = 10) -> set[int]:
    """The photographs (by sorted index) kept for the test split: every ``test_every``-th, or the last."""
    return set(range(test_every - 1, count, test_every)) or ({count - 1} if count > 1 else set())


def held_out_photos() -> list[Path]:
    """The photographs the ``photos`` dataset never trains on (its test split's sources)."""
    files = photo_files()
    return [files[index] for index in sorted(held_out_indices(len(files)))]


def crops_of(
    files: list[Path],
    *,
    size: int,
    crops_per_photo: int,
    seed: int,
    test_every: int = 10,
    name: str,
    short_sides=SHORT_SIDES,
) -> ImageDataset:
    """Random ``size`` crops of each file; every ``test_every``-th photograph (sorted order; the last one when there
    are fewer) goes to the test split."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    held_out = held_out_indices(len(files), test_every)
    for index, path in enumerate(files):
        levels = [level for level in shrunk(path, short_sides) if min(level.shape[:2]) >= size]
        if not levels:
            raise DataError(f"{path}: smaller than the {size}-pixel crops")
        crops = []
        for number, picture in enumerate(levels):
            count = crops_per_photo // len(levels) + (number < crops_per_photo % len(levels))
            height, width = picture.shape[:2]
            tops, lefts = rng.integers(0, height - size + 1, count), rng.integers(0, width - size + 1, count)
            crops += [picture[t : t + size, left : left + size] for t, left in zip(tops, lefts)]
        (test if index in held_out else train).append(np.stack(crops))
    if not train:
        raise DataError(f"{name}: no photographs to train on")
    to_tensor = lambda parts: torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2).contiguous()
    return ImageDataset(name=name, train_images=to_tensor(train), test_images=to_tensor(test or train[-1:]))


def load_crops(path: str, *, image_size: int | None = None, crops_per_photo: int = 256) -> ImageDataset:
    """Random crops of every photograph under ``path`` (recursive)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no image files found")
    size = image_size or DEFAULT_CROP
    return crops_of(files, size=size, crops_per_photo=crops_per_photo, seed=0, name=f"crops:{root}")


def load_photos(*, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    files = photo_files()
    if not debian_photos():
        raise DataError(f"dataset 'photos' is not available here: {photos_where()}")
    return crops_of(files, size=image_size or DEFAULT_CROP, crops_per_photo=256, seed=0, name="photos")


register(
    DatasetSpec(
        "crops:",
        f"random square crops (default {DEFAULT_CROP} px, --image-size) of the photographs in a folder",
        load_crops,
        lambda: "your own files",
        lambda: True,
        "yours",
    )
)
register(
    DatasetSpec(
        "photos",
        f"{len(PHOTOGRAPHS)} photographs from Debian wallpaper packages and scikit-learn's 2, 256 crops each",
        load_photos,
        photos_where,
        lambda: bool(debian_photos()),
        f"{len(PHOTOGRAPHS)} + 2 photographs at short sides {', '.join(map(str, SHORT_SIDES))}, RGB",
    )
)
