"""Natural photographs for codecs and restoration: random crops at (near) native resolution.

``crops:PATH`` cuts random square crops from every photograph under a folder; ``photos`` does so from the
photographs (not the artwork) that Debian's wallpaper packages ship. Photographs are first shrunk so the
short side is at most ``SHORT_SIDE`` pixels (a 4000-pixel wallpaper is mostly smooth at full size, and
shrinking also averages away sensor noise and JPEG blocks, as learned-codec training sets do), then cut into
``crops_per_photo`` crops. Whole photographs are held out for the test split, so no test crop overlaps a
training one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from .base import DatasetSpec, ImageDataset, register
from .sources import IMAGE_SUFFIXES

SHORT_SIDE = 640
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


def photo_files() -> list[Path]:
    return [path for _, path in PHOTOGRAPHS if path.is_file()]


def photos_where() -> str:
    found = len(photo_files())
    packages = " ".join(_PHOTO_FOLDERS)
    return f"{found} of {len(PHOTOGRAPHS)} photographs found; get them with: apt-get install {packages}"


def shrunk(path: Path, short_side: int = SHORT_SIDE) -> np.ndarray:
    """A photograph as uint8 HxWx3, its short side shrunk to ``short_side`` (never enlarged)."""
    try:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            scale = short_side / min(picture.size)
            if scale < 1:
                size = (round(picture.width * scale), round(picture.height * scale))
                picture = picture.resize(size, Image.Resampling.LANCZOS)
            return np.asarray(picture)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from None


def crops_of(
    files: list[Path], *, size: int, crops_per_photo: int, seed: int, test_every: int = 10, name: str
) -> ImageDataset:
    """Random ``size`` crops of each file; every ``test_every``-th photograph (sorted order; the last one when there
    are fewer) goes to the test split."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    held_out = set(range(test_every - 1, len(files), test_every)) or ({len(files) - 1} if len(files) > 1 else set())
    for index, path in enumerate(files):
        picture = shrunk(path)
        height, width = picture.shape[:2]
        if min(height, width) < size:
            raise DataError(f"{path}: {width}x{height} is smaller than the {size}-pixel crops")
        tops = rng.integers(0, height - size + 1, crops_per_photo)
        lefts = rng.integers(0, width - size + 1, crops_per_photo)
        crops = np.stack([picture[t : t + size, left : left + size] for t, left in zip(tops, lefts)])
        (test if index in held_out else train).append(crops)
    if not train:
        raise DataError(f"{name}: no photographs to train on")
    to_tensor = lambda parts: torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2).contiguous()
    return ImageDataset(name=name, train_images=to_tensor(train), test_images=to_tensor(test or train[-1:]))


def load_crops(path: str, *, image_size: int | None = None, crops_per_photo: int = 256) -> ImageDataset:
    """Random crops of every photograph under ``path`` (recursive)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{root}: no image files found")
    size = image_size or DEFAULT_CROP
    return crops_of(files, size=size, crops_per_photo=crops_per_photo, seed=0, name=f"crops:{root}")


def load_photos(*, image_size: int | None = None, limit: int | None = None) -> ImageDataset:
    files = photo_files()
    if not files:
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
        f"{len(PHOTOGRAPHS)} photographs from Debian wallpaper packages, as 256 random crops each",
        load_photos,
        photos_where,
        lambda: bool(photo_files()),
        f"{len(PHOTOGRAPHS)} photographs, short side {SHORT_SIDE}, RGB",
    )
)
