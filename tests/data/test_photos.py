"""crops: and photos: random crops of photographs, whole photographs held out for the test split."""

import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.data import load_dataset
from imsynth.data.photos import PHOTOGRAPHS, crops_of, photos_where
from imsynth.errors import DataError
from imsynth.image import save_image


def _photos(folder, count=3, shape=(50, 70, 3)):
    rng = np.random.default_rng(0)
    for index in range(count):
        save_image(folder / f"p{index}.png", rng.random(shape).astype(np.float32))
    return sorted(folder.glob("*.png"))


def test_crops_come_from_the_photographs_and_hold_whole_photographs_out(tmp_path):
    files = _photos(tmp_path)
    data = crops_of(files, size=16, crops_per_photo=5, seed=0, test_every=3, name="t")
    assert data.train_images.shape == (10, 3, 16, 16) and data.test_images.shape == (5, 3, 16, 16)
    held_out = torch.from_numpy(np.array(Image.open(files[2]))).permute(2, 0, 1)
    for crop in data.test_images:  # every test crop is a window of the third photograph
        found = any(
            torch.equal(held_out[:, top : top + 16, left : left + 16], crop)
            for top in range(50 - 15)
            for left in range(70 - 15)
        )
        assert found
    again = crops_of(files, size=16, crops_per_photo=5, seed=0, test_every=3, name="t")
    assert torch.equal(again.train_images, data.train_images)


def test_crops_dataset_by_name_and_its_errors(tmp_path):
    _photos(tmp_path)
    data = load_dataset(f"crops:{tmp_path}", image_size=32)
    assert data.image_size == 32 and data.channels == 3
    assert len(data.train_images) == 2 * 256 and len(data.test_images) == 256  # fewer than 10: the last is held out
    with pytest.raises(DataError, match="smaller than the 64-pixel crops"):
        load_dataset(f"crops:{tmp_path}", image_size=64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        load_dataset(f"crops:{tmp_path / 'empty'}")


def test_photos_say_where_they_come_from():
    assert len(PHOTOGRAPHS) >= 30
    assert "apt-get install" in photos_where() and "mate-backgrounds" in photos_where()
