from pathlib import Path

import numpy as np
import pytest
import torch

from imsynth.clips import frame_rate, read_clip, write_frames
from imsynth.data import load_dataset
from imsynth.data.base import ImageDataset
from imsynth.data.clips import MOVING_SHAPE_FACTORS, _moving, bounce_paths, render_moving_shapes
from imsynth.errors import ImageError, InputError
from imsynth.image import save_image

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
TREE = VTEST.with_name("tree.avi")  # cinepak AVI that holds each of its 68 frames for about 6.5 of 444 ticks


def test_moving_digits_are_seeded_clips_of_the_declared_kind_and_shape():
    data = load_dataset("moving-digits?frames=6&train=20&test=8")
    assert data.kind == "clips" and data.train_images.shape == (20, 6, 1, 32, 32)
    assert data.test_images.shape == (8, 6, 1, 32, 32) and data.train_images.dtype == torch.uint8
    again = load_dataset("moving-digits?frames=6&train=20&test=8")
    assert torch.equal(data.train_images, again.train_images)
    # things move: consecutive frames differ, and the bright mass of a clip is kept as it moves
    frames = data.train_images[0].float()
    assert (frames[1:] - frames[:-1]).abs().sum() > 0
    assert data.train_labels.shape == (20,) and int(data.train_labels.max()) < 10
    small = load_dataset("moving-digits?frames=6&train=4&test=4", image_size=16)
    assert small.train_images.shape == (4, 6, 1, 16, 16)


def test_test_clips_are_made_from_the_sources_test_items_only():
    source = ImageDataset(
        name="fake",
        train_images=torch.full((10, 1, 8, 8), 255, dtype=torch.uint8),
        test_images=torch.full((10, 1, 8, 8), 100, dtype=torch.uint8),
        train_labels=torch.zeros(10, dtype=torch.int64),
        test_labels=torch.ones(10, dtype=torch.int64),
    )
    data = _moving("fake-moving", source, "train=6&test=6&frames=5", default_size=20, item_size=8, limit=None)
    assert int(data.train_images.max()) == 255 and int(data.test_images.max()) == 100
    assert set(data.test_labels.tolist()) == {1}


def test_deterministic_paths_keep_their_speed_and_stochastic_ones_change_it_at_bounces():
    rng = np.random.default_rng(0)
    for stochastic in (False, True):
        path, first = bounce_paths(200, 40, 36, rng, stochastic=stochastic)
        assert path.min() >= 0 and path.max() <= 36
        steps = np.linalg.norm(np.diff(path, axis=1), axis=2)
        inside = (path[:, :-1] > 6).all(axis=2) & (path[:, :-1] < 30).all(axis=2)
        inside &= (path[:, 1:] > 6).all(axis=2) & (path[:, 1:] < 30).all(axis=2)
        speed = np.linalg.norm(first, axis=1)[:, None]
        changed = np.abs(steps - speed)[inside]
        if stochastic:
            assert np.mean(changed > 0.05) > 0.3  # new speeds after bounces
        else:
            assert changed.max() < 1e-6  # reflections keep the speed


def test_moving_shapes_clips_follow_their_declared_content_and_motion():
    # direction 0 (to the right), speed index 2 (3 grid units a frame), no spin
    factors = np.array([[1, 5, 0, 2, 2], [1, 5, 2, 2, 2]])
    starts = np.array([[0, 5, 16], [0, 16, 5]])
    clips = render_moving_shapes(factors, starts, 4).astype(float)
    columns, rows = np.arange(64), np.arange(64)[:, None]

    def centre(frame):
        return (frame.sum(0) * columns).sum() / frame.sum(), (frame * rows).sum() / frame.sum()

    x0, y0 = centre(clips[0, 0, 0])
    x3, y3 = centre(clips[0, 3, 0])
    assert x3 - x0 == pytest.approx(9 * 40 / 31, abs=1.0) and abs(y3 - y0) < 0.5  # 9 grid units right
    x0, y0 = centre(clips[1, 0, 0])
    x3, y3 = centre(clips[1, 3, 0])
    assert y3 - y0 == pytest.approx(9 * 40 / 31, abs=1.0) and abs(x3 - x0) < 0.5  # direction 2: down
    data = load_dataset("moving-shapes?frames=4&train=6&test=3")
    assert data.factors_train.shape == (6, 5) and data.factor_source is MOVING_SHAPE_FACTORS
    assert data.factor_names[:2] == ("shape", "scale") and data.motion_factors == ("direction", "speed", "spin")


def test_bouncing_items_declare_their_item_first_direction_and_speed():
    data = load_dataset("moving-fashion?items=1&frames=3&train=300&test=10")
    assert data.factor_names == ("item", "direction", "speed") and data.factor_sizes == (10, 8, 3)
    assert torch.equal(data.factors_train[:, 0], data.train_labels) and data.frame_features == "fashion-mnist"
    # the bright mass of the one item moves by its first velocity until it bounces
    mass = data.train_images[:, :2, 0].float()
    columns, rows = torch.arange(64.0), torch.arange(64.0)[:, None]
    x = (mass.sum(2) * columns).sum(-1) / mass.sum((2, 3))
    y = (mass * rows).sum((2, 3)) / mass.sum((2, 3))
    dx, dy = x[:, 1] - x[:, 0], y[:, 1] - y[:, 0]
    speed = torch.hypot(dx, dy)  # 64-pixel frames, 28-pixel items: 36 pixels of room, speeds as Moving MNIST's
    moved = speed > 1.0  # an item that bounced on its first step moved less, or the other way
    # positions are rounded to whole pixels, so a 2-pixel step's angle is off by up to 20 degrees: the bin's centre
    # is within 45 degrees of the step (a bin off by one is 45 degrees away from its neighbours' centres)
    centre = data.factors_train[:, 1].float() * (np.pi / 4)
    off = torch.remainder(torch.atan2(dy, dx) - centre + np.pi, 2 * np.pi) - np.pi
    assert (off.abs() < np.pi / 4)[moved].float().mean() > 0.9  # 0.96 measured; a wrong bin gives < 0.5
    # whole-pixel steps blur the speed by up to a pixel, so each bin's mean speed is checked: 2.5, 3.5, 4.5 px
    means = [float(speed[moved & (data.factors_train[:, 2] == b)].mean()) for b in range(3)]
    assert means == pytest.approx([2.5, 3.5, 4.5], abs=0.4)


def _counting_frames(folder: Path, count: int, size: int = 24) -> list[np.ndarray]:
    """Frames whose brightness is their index, so a clip says which frames it holds."""
    return [np.full((size, size), (index + 1) / (count + 1), dtype=np.float32) for index in range(count)]


def test_a_recording_is_cut_into_clips_with_the_test_split_after_the_train_split(tmp_path):
    frames = _counting_frames(tmp_path, 40)
    write_frames(frames, f"{tmp_path}/frames/")
    data = load_dataset(f"frames:{tmp_path / 'frames'}?frames=4&stride=2&size=16")
    assert data.kind == "clips" and data.train_images.shape[1:] == (4, 1, 16, 16)
    brightness = lambda clips: clips.float().mean(dim=(2, 3, 4))
    train, test = brightness(data.train_images), brightness(data.test_images)
    assert (train[:, 1:] > train[:, :-1]).all()  # frames in order, natural sort (frame-00010 after frame-00009)
    assert train.max() < test.min()  # no clip crosses the 80% cut
    assert len(data.train_images) == (32 - 4) // 2 + 1 and len(data.test_images) == (8 - 4) // 2 + 1


def test_video_files_are_read_streamed_with_their_frame_rate(tmp_path):
    write_frames(_counting_frames(tmp_path, 30, 32), tmp_path / "clip.mp4", fps=8)
    assert frame_rate(tmp_path / "clip.mp4") == pytest.approx(8)
    clip = read_clip(tmp_path / "clip.mp4", max_frames=5)
    assert clip.shape == (5, 32, 32, 3) and clip.dtype == np.uint8
    assert (np.diff(clip.mean(axis=(1, 2, 3))) > 0).all()
    write_frames(_counting_frames(tmp_path, 6, 16), tmp_path / "clip.gif")
    assert read_clip(tmp_path / "clip.gif").shape == (6, 16, 16, 3)
    data = load_dataset(f"video:{tmp_path / 'clip.mp4'}?frames=5&stride=5&size=16")
    assert data.fps == pytest.approx(8) and data.train_images.shape[1:] == (5, 3, 16, 16)


@pytest.mark.skipif(not VTEST.exists(), reason="apt-get install opencv-doc")
def test_the_real_recording_in_opencv_doc_loads():
    data = load_dataset(f"video:{VTEST}?frames=10&stride=10&size=32")
    assert data.train_images.shape[1:] == (10, 3, 32, 32)
    assert len(data.train_images) == int(795 * 0.8) // 10 and data.fps == pytest.approx(10)


@pytest.mark.skipif(not TREE.exists(), reason="apt-get install opencv-doc")
def test_a_video_that_holds_its_frames_gives_each_once_at_the_rate_it_was_filmed():
    clip = read_clip(TREE)
    assert len(clip) == 68  # of 444 declared: the file repeats each coded frame for several ticks
    assert all(not np.array_equal(a, b) for a, b in zip(clip[:-1], clip[1:]))  # no frame comes twice in a row
    assert frame_rate(TREE) == pytest.approx(15, abs=0.01)  # what it declares, before it is read
    data = load_dataset(f"video:{TREE}?frames=6&stride=6&size=16")
    assert data.fps == pytest.approx(68 / 29.6, rel=0.01)  # 68 frames over the declared 29.6 s, not 15 fps
    assert len(data.train_images) + len(data.test_images) == (54 - 6) // 6 + 1 + (14 - 6) // 6 + 1


def test_bad_clips_are_refused_with_one_line_naming_the_file(tmp_path):
    (tmp_path / "mixed").mkdir()
    save_image(tmp_path / "mixed" / "a.png", np.zeros((8, 8)))
    save_image(tmp_path / "mixed" / "b.png", np.zeros((8, 10)))
    with pytest.raises(InputError, match=r"b\.png: frame of shape 10x8x1 .* first frame is 8x8x1"):
        read_clip(tmp_path / "mixed")
    (tmp_path / "fake.mp4").write_bytes(b"not a video at all")
    with pytest.raises(ImageError, match=r"fake\.mp4: .*(not a readable video|no frames)"):
        read_clip(tmp_path / "fake.mp4")
    write_frames(_counting_frames(tmp_path, 6, 16), tmp_path / "whole.gif")
    (tmp_path / "cut.gif").write_bytes((tmp_path / "whole.gif").read_bytes()[:20])
    with pytest.raises(ImageError, match=r"cut\.gif: not a readable GIF"):
        read_clip(tmp_path / "cut.gif")
    with pytest.raises(InputError, match=r"photo\.png: not a clip \(\.png\)"):
        save_image(tmp_path / "photo.png", np.zeros((8, 8)))
        read_clip(tmp_path / "photo.png")
    write_frames(_counting_frames(tmp_path, 6, 16), f"{tmp_path}/short/")
    with pytest.raises(InputError, match="fewer than one clip of 15 frames"):
        load_dataset(f"frames:{tmp_path / 'short'}")
    with pytest.raises(InputError, match="a clip needs at least 2 frames, got 1"):
        load_dataset("moving-digits?frames=1")
    with pytest.raises(InputError, match="unknown option 'speed'"):
        load_dataset("moving-digits?speed=3")


def test_a_gif_keeps_its_frames_and_its_rate_when_frames_repeat(tmp_path):
    from imsynth.clips import stored_fps

    # Pillow merges identical consecutive GIF frames into one shown longer; reading expands them back
    still = [np.zeros((8, 8))] + [np.full((8, 8), 0.6)] * 5 + [np.ones((8, 8))]
    write_frames(still, tmp_path / "still.gif", fps=10)
    clip = read_clip(tmp_path / "still.gif")
    assert clip.shape[0] == 7 and (clip[1:6] == clip[1]).all() and not (clip[6] == clip[1]).all()
    # a GIF stores frame times in hundredths of a second: 12 fps is written as 80 ms, 12.5 fps
    write_frames(still, tmp_path / "twelve.gif", fps=12)
    assert frame_rate(tmp_path / "twelve.gif") == stored_fps("x.gif", 12) == 12.5
    assert stored_fps("x.mp4", 12) == 12
