import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.clips import save_gif
from imsynth.errors import ImageError, InputError
from imsynth.image import all_or_nothing, atomic_path, load_image, make_grid, save_image, to_float
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


# -- full bit depth ------------------------------------------------------------------------------------------
def _sixteen_bit(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 65536, size=shape, dtype=np.uint16)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3), (9, 7, 4)])
def test_sixteen_bit_files_round_trip_to_the_last_bit(tmp_path, suffix, shape):
    from imsynth.image import read_image

    pixels = _sixteen_bit(shape)
    path = save_image(tmp_path / f"x{suffix}", pixels, bit_depth=16)
    loaded, depth = read_image(path)
    assert depth == 16 and loaded.dtype == np.float32 and loaded.shape == shape
    assert np.array_equal(np.round(loaded * 65535).astype(np.uint16), pixels)


def test_thirty_two_bit_integer_and_float_images_keep_their_precision(tmp_path):
    from imsynth.image import read_image

    floats = np.random.default_rng(0).random((5, 6)).astype(np.float32)
    Image.fromarray(floats, mode="F").save(tmp_path / "f.tif")
    loaded, depth = read_image(tmp_path / "f.tif")
    assert depth == 32 and np.array_equal(loaded, floats)
    integers = np.array([[0, 2**31 - 1], [2**20, 12345]], dtype=np.int32)
    Image.fromarray(integers, mode="I").save(tmp_path / "i.tif")
    loaded, depth = read_image(tmp_path / "i.tif")
    assert depth == 32 and loaded[0, 0] == 0 and abs(loaded[0, 1] - (2**31 - 1) / (2**32 - 1)) < 1e-7


def test_output_depth_follows_the_input_where_the_format_allows():
    from imsynth.image import output_depth

    assert output_depth("a.png", None, 16) == 16 and output_depth("a.jpg", None, 16) == 8
    assert output_depth("a.png", "auto", 8) == 8 and output_depth("a.tif", 16, 8) == 16
    with pytest.raises(InputError, match="16-bit output needs one of .png, .tif, .tiff"):
        output_depth("a.jpg", 16, 8)


def test_inpainting_a_sixteen_bit_image_keeps_known_pixels_to_the_last_bit(tmp_path, capsys):
    from tests.helpers import run_cli

    for shape in ((24, 20), (24, 20, 3)):
        pixels = _sixteen_bit(shape, seed=len(shape))
        save_image(tmp_path / "in.png", pixels, bit_depth=16)
        mask = np.zeros((24, 20), np.uint8)
        mask[8:14, 6:12] = 255
        Image.fromarray(mask).save(tmp_path / "mask.png")
        code, _, err = run_cli(
            capsys,
            "inpaint",
            str(tmp_path / "in.png"),
            str(tmp_path / "mask.png"),
            "-o",
            str(tmp_path / "out.png"),
            "--method",
            "biharmonic",
        )
        assert code == 0, err
        import cv2

        written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
        assert written.dtype == np.uint16
        if written.ndim == 3:
            written = written[:, :, ::-1]
        known = mask == 0
        assert np.array_equal(written[known], pixels[known])
        assert not np.array_equal(written[~known], pixels[~known])


# -- outputs that cannot be written, sizes that cannot fit ---------------------------------------------------
def test_unwritable_output_folders_and_unknown_suffixes_are_clear_errors(tmp_path):
    from imsynth.image import check_output

    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputError, match="cannot create the output folder"):
        save_image(tmp_path / "file" / "out.png", np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"unknown output format \(.xyz\); supported: .png, .jpg"):
        save_image(tmp_path / "out.xyz", np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"unknown output format \(no suffix\)"):
        check_output(tmp_path / "out")
    assert not (tmp_path / "out.xyz").exists()


def test_sizes_that_cannot_fit_are_refused_before_allocating():
    from imsynth.classical import resize, synthesize
    from imsynth.image import MAX_PIXELS, check_allocation

    with pytest.raises(InputError, match=f"the limit is {MAX_PIXELS:,}"):
        synthesize(np.zeros((8, 8), np.float32), (99999, 99999))
    with pytest.raises(InputError, match="pixels; the limit is"):
        resize(np.zeros((8, 8), np.float32), scale=20000)
    with pytest.raises(InputError, match="GiB for its arrays"):
        check_allocation(10**15, where="samples")


def test_file_pairs_mirror_folders_and_check_outputs_first(tmp_path):
    from imsynth.image import file_pairs

    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.jpg", "notes.txt"):
        (tmp_path / "in" / name).write_bytes(b"x")
    pairs, out = file_pairs(tmp_path / "in", tmp_path / "out")
    assert [(a.relative_to(tmp_path).as_posix(), b.relative_to(tmp_path).as_posix()) for a, b in pairs] == [
        ("in/a.png", "out/a.png"),
        ("in/sub/b.jpg", "out/sub/b.png"),
    ]
    assert out.is_dir()
    single, _ = file_pairs(
        tmp_path / "in" / "a.png", str(tmp_path / "dest") + "/", out_suffix=".isz", out_suffixes=(".isz",)
    )
    assert single[0][1] == tmp_path / "dest" / "a.isz"
    with pytest.raises(InputError, match="needs an output folder"):
        file_pairs(tmp_path / "in", tmp_path / "out.png")
    with pytest.raises(InputError, match="unknown output format"):
        file_pairs(tmp_path / "in" / "a.png", tmp_path / "a.gif")
    with pytest.raises(InputError, match="no such file or folder"):
        file_pairs(tmp_path / "missing", tmp_path / "o.png")


def test_convert_channels_uses_luma_and_drops_alpha():
    from imsynth.image import LUMA, convert_channels

    rgba = np.random.default_rng(0).random((4, 5, 4)).astype(np.float32)
    grey = convert_channels(rgba, 1)
    assert grey.shape == (4, 5) and np.allclose(grey, rgba[:, :, :3] @ LUMA)
    rgb = convert_channels(grey, 3)
    assert rgb.shape == (4, 5, 3) and all(np.array_equal(rgb[:, :, c], grey) for c in range(3))
    assert np.array_equal(convert_channels(rgba, 3), rgba[:, :, :3])
    assert np.array_equal(convert_channels(np.stack([grey, grey], axis=2), 1), grey)  # grey + alpha


def test_a_gif_frame_longer_than_the_format_holds_is_refused(tmp_path):
    # found by the action fuzz: morph --fps 0.002 (identical frames) ended in struct.error (a GIF stores 1/100 s in 16 bits)
    frames = [np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)]
    with pytest.raises(InputError, match="a GIF frame shows for at most 655.35 s"):
        save_gif(tmp_path / "slow.gif", frames, duration_ms=1000 / 0.001)
    assert not (tmp_path / "slow.gif").exists()
    save_gif(tmp_path / "ok.gif", frames, duration_ms=655_350)
    # identical frames in a row are stored as one frame showing for their summed time
    with pytest.raises(InputError, match="3 identical frames in a row are stored as one"):
        save_gif(tmp_path / "held.gif", [frames[0]] * 3, duration_ms=300_000)


def test_a_batch_is_written_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.png").write_bytes(b"the user's own file")
    with pytest.raises(InputError, match="the third"):
        with all_or_nothing() as batch:
            save_image(batch.path(out / "a.png"), np.zeros((4, 4), np.float32))
            save_image(batch.path(out / "sub" / "b.png"), np.zeros((4, 4), np.float32))
            raise InputError("the third file is damaged")
    assert sorted(p.name for p in out.rglob("*")) == ["kept.png"]  # nothing new, the new folder gone
    with all_or_nothing() as batch:
        save_image(batch.path(out / "kept.png"), np.ones((4, 4), np.float32))
        save_image(batch.path(out / "sub" / "b.png"), np.zeros((4, 4), np.float32))
    assert load_image(out / "kept.png").min() == 1 and (out / "sub" / "b.png").is_file()
    assert not [p for p in out.rglob("*") if "pending" in p.name]
