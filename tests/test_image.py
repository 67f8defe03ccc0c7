import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.errors import ImageError, InputError
from imsynth.image import atomic_path, load_image, make_grid, save_gif, save_image, to_float
from imsynth.runtime.tensors import numpy_to_tensor, tensor_to_numpy


def test_numpy_tensor_round_trip_keeps_values_and_layout(rng):
    image = rng.random((5, 7, 3)).astype(np.float32)
    tensor = numpy_to_tensor(image)
    assert tensor.shape == (1, 3, 5, 7)
    assert tensor.min() >= -1 and tensor.max() <= 1
    assert np.allclose(tensor_to_numpy(tensor)[0], image, atol=1e-6)
    assert numpy_to_tensor(image[..., 0]).shape == (1, 1, 5, 7)


def test_to_float_is_explicit_about_dtypes():
    assert to_float(np.array([0, 255], dtype=np.uint8)).tolist() == [0.0, 1.0]
    assert to_float(np.array([65535], dtype=np.uint16)).tolist() == [1.0]
    with pytest.raises(InputError, match="unsupported image dtype"):
        to_float(np.array([1], dtype=np.int32))


def test_grid_tiles_images_with_padding():
    images = torch.zeros(5, 1, 4, 6) - 1  # black
    grid = make_grid(tensor_to_numpy(images), nrow=3, padding=2)
    assert grid.shape == (2 * 6 + 2, 3 * 8 + 2, 1)
    assert grid[2:6, 2:8].max() == 0.0  # first image is black
    assert grid[0].min() == 1.0  # padding is white


def test_save_and_load_round_trip(tmp_path, rng):
    image = (rng.random((9, 11, 3)) * 255).astype(np.uint8)
    save_image(tmp_path / "x.png", image)
    loaded = load_image(tmp_path / "x.png")
    assert loaded.dtype == np.float32 and loaded.shape == (9, 11, 3)
    assert np.array_equal(np.round(loaded * 255).astype(np.uint8), image)
    assert list(tmp_path.iterdir()) == [tmp_path / "x.png"]  # no temp files left


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_exif_orientation_is_applied(tmp_path):
    picture = Image.new("L", (4, 2))
    picture.putpixel((0, 0), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    picture.save(tmp_path / "o.jpg", exif=exif, quality=100)
    assert load_image(tmp_path / "o.jpg").shape == (4, 2)


@pytest.mark.parametrize("content, message", [(b"", "empty file"), (b"not an image at all", "not a readable image")])
def test_bad_files_raise_image_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as error:
        load_image(path)
    assert "bad.png" in str(error.value)


def test_truncated_png_is_an_error(tmp_path, rng):
    save_image(tmp_path / "full.png", rng.random((64, 64, 3)))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png"):
        load_image(tmp_path / "cut.png")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    Image.new("L", (200, 200)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="too large"):
        load_image(tmp_path / "bomb.png")


def test_gif_has_all_frames_and_duration(tmp_path):
    import imageio.v3 as iio

    frames = [np.full((6, 6), value, dtype=np.float32) for value in (0.0, 0.5, 1.0)]
    save_gif(tmp_path / "a.gif", frames, duration_ms=120)
    loaded = iio.imread(tmp_path / "a.gif", index=None)
    assert loaded.shape[0] == 3
    assert iio.immeta(tmp_path / "a.gif")["duration"] == 120
