import json

import numpy as np
import pytest
from PIL import Image

from imsynth.classical.animate import Keyframes, animate, morph
from imsynth.classical.warp import estimate_transform, mesh_map, moving_least_squares, rotate, thin_plate_spline, warp
from imsynth.clips import write_frames
from imsynth.errors import InputError
from tests.helpers import assert_one_line_error, run_cli

RNG = np.random.default_rng(0)
SRC = np.array([[10.0, 12.0], [50.0, 8.0], [30.0, 45.0], [55.0, 50.0], [12.0, 40.0]])
DST = SRC + np.array([[3.0, -2.0], [-4.0, 5.0], [2.0, 3.0], [-3.0, -4.0], [5.0, 1.0]])


def gradient_image(height=60, width=64):
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs / (width - 1), ys / (height - 1), (xs + ys) / (width + height - 2)], axis=2)


@pytest.mark.parametrize("kind", ["affine", "similarity", "rigid"])
def test_mls_takes_control_points_to_their_targets_and_equal_points_give_the_identity(kind):
    mapping = moving_least_squares(SRC, DST, kind)
    assert np.abs(mapping(SRC) - DST).max() < 0.01
    queries = RNG.uniform(0, 64, (200, 2))
    assert np.abs(moving_least_squares(SRC, SRC, kind)(queries) - queries).max() < 1e-6


def test_mls_reproduces_a_global_transform_of_its_own_kind():
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = SRC @ rotation.T + [4.0, -3.0]
    queries = RNG.uniform(0, 64, (100, 2))
    expected = queries @ rotation.T + [4.0, -3.0]
    for kind in ("rigid", "similarity", "affine"):
        assert np.abs(moving_least_squares(SRC, moved, kind)(queries) - expected).max() < 1e-6
    scaled = SRC * 1.5
    similar = moving_least_squares(SRC, scaled, "similarity")(queries)
    assert np.abs(similar - queries * 1.5).max() < 1e-6
    rigid = moving_least_squares(SRC, scaled, "rigid")(queries)
    assert np.abs(rigid - queries * 1.5).max() > 1  # rigid may not scale


def test_thin_plate_spline_interpolates_and_is_affine_for_affine_data():
    mapping = thin_plate_spline(SRC, DST)
    assert np.abs(mapping(SRC) - DST).max() < 1e-6
    matrix = np.array([[1.1, 0.2], [-0.1, 0.9]])
    queries = RNG.uniform(0, 64, (50, 2))
    affine = thin_plate_spline(SRC, SRC @ matrix.T + 2)(queries)
    assert np.abs(affine - (queries @ matrix.T + 2)).max() < 1e-6


@pytest.mark.parametrize(
    "method", ["affine", "similarity", "projective", "tps", "mls-affine", "mls-similarity", "mls-rigid", "mesh"]
)
def test_point_warps_move_image_content_from_src_to_dst(method):
    image = gradient_image()
    src = SRC if method != "projective" else SRC[:4]
    dst = DST if method != "projective" else DST[:4]
    out = warp(image, method, src, dst, grid=1)
    assert out.shape == image.shape and out.dtype == np.float32
    if method in ("tps", "mls-affine", "mls-similarity", "mls-rigid", "mesh"):
        # interpolating warps: the pixel at each dst point shows the colour that sat at its src point
        for (sx, sy), (dx, dy) in zip(src, dst):
            if dx == int(dx) and dy == int(dy):
                assert np.abs(out[int(dy), int(dx)] - image[int(sy), int(sx)]).max() < 0.02
    identity = warp(image, method, src, src, grid=1)
    assert np.abs(identity - image).max() < 1e-5


def test_grid_evaluation_stays_close_to_the_exact_map():
    image = gradient_image(120, 128)
    src = RNG.uniform(10, 110, (16, 2))
    dst = src + RNG.normal(0, 4, (16, 2))
    exact = warp(image, "mls-rigid", src, dst, grid=1)
    coarse = warp(image, "mls-rigid", src, dst, grid=4)
    # the gradient image changes by 1/127 per pixel: 0.5 px of map error is 0.004 in value
    assert np.abs(exact - coarse)[5:-5, 5:-5].max() < 0.006


def test_rotation_and_matrices():
    image = np.zeros((21, 21), np.float32)
    image[10, 15] = 1.0
    turned = rotate(image, 90, order=0)  # counter-clockwise on screen: right of centre moves up
    assert turned[5, 10] == 1.0 and turned.sum() == 1.0
    matrix = estimate_transform("similarity", SRC, SRC * 2 + 1)
    assert np.allclose(matrix, [[2, 0, 1], [0, 2, 1], [0, 0, 1]], atol=1e-9)


def test_swirl_and_elastic_are_seeded_and_keep_the_centre():
    image = gradient_image()
    swirled = warp(image, "swirl", strength=5, radius=20)
    assert np.abs(swirled[29:31, 31:33] - image[29:31, 31:33]).max() < 0.05 and not np.allclose(swirled, image)
    first, again = warp(image, "elastic", seed=1), warp(image, "elastic", seed=1)
    assert np.array_equal(first, again) and not np.array_equal(first, warp(image, "elastic", seed=2))


def test_mesh_map_is_exact_at_vertices_and_identity_at_corners():
    map_x, map_y = mesh_map(SRC, DST, (60, 64))
    for (sx, sy), (dx, dy) in zip(SRC, DST):
        assert abs(map_x[int(dy), int(dx)] - sx) < 1e-6 and abs(map_y[int(dy), int(dx)] - sy) < 1e-6
    assert (map_x[0, 0], map_y[0, 0]) == (0, 0) and abs(map_x[59, 63] - 63) < 1e-9


@pytest.mark.parametrize(
    "src,dst,message",
    [
        (SRC, DST[:4], "src has 5 points but dst has 4"),
        (SRC[:2], DST[:2], "tps needs at least 3 point pairs"),
        ([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 2], [2, 5]], "all src points lie on one line"),
        ([[0, 0], [0, 0], [2, 5]], [[0, 0], [1, 2], [2, 5]], "src repeats a point"),
        ([[0, 0], [np.nan, 1], [2, 5]], [[0, 0], [1, 2], [2, 5]], "NaN or infinite"),
    ],
)
def test_bad_points_are_refused_with_the_reason(src, dst, message):
    with pytest.raises(ValueError, match=message):
        warp(gradient_image(), "tps", src, dst)


KEYS = {
    "points": [[10, 10], [50, 10], [30, 50]],
    "keyframes": [
        {"t": 0.0, "points": [[10, 10], [50, 10], [30, 50]]},
        {"t": 1.0, "points": [[14, 10], [50, 14], [30, 46]]},
        {"t": 2.0, "points": [[10, 10], [50, 10], [30, 50]]},
    ],
    "fps": 5,
    "duration": 2.0,
    "interpolation": "cubic",
    "warp": "mls-rigid",
}


def test_keyframes_hit_their_keys_and_frame_counts_follow_fps_and_duration():
    keys = Keyframes(KEYS)
    assert keys.frame_count == 11
    assert np.allclose(keys.points_at(1.0), KEYS["keyframes"][1]["points"])
    assert np.allclose(keys.points_at(0.0), KEYS["points"]) and np.allclose(keys.points_at(5.0), KEYS["points"])
    linear = Keyframes({**KEYS, "interpolation": "linear"})
    assert np.allclose(linear.points_at(0.5), [[12, 10], [50, 12], [30, 48]])
    eased = Keyframes({**KEYS, "interpolation": "linear", "easing": "ease-in"})
    assert np.allclose(eased.points_at(0.5), [[11, 10], [50, 11], [30, 49]])  # s = 0.25
    frames = animate(gradient_image(), keys)
    assert len(frames) == 11 and np.array_equal(frames[0], gradient_image())
    assert not np.allclose(frames[5], frames[0])


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"keyframes": [{"t": 1.0, "points": KEYS["points"]}, {"t": 0.5, "points": KEYS["points"]}]},
            "increase strictly",
        ),
        ({"keyframes": [{"t": 0.0, "points": [[1, 2], [3, 4]]}]}, "has 2 points, 'points' has 3"),
        ({"interpolation": "bezier"}, "unknown interpolation 'bezier'"),
        ({"fps": 0}, "fps and duration must be > 0"),
        (
            {"warp": "tps", "points": [[0, 0], [1, 1]], "keyframes": [{"t": 0, "points": [[0, 0], [1, 1]]}]},
            "tps needs at least 3 point pairs",
        ),
        ({"warp": "bend"}, "unknown warp method 'bend'"),
    ],
)
def test_bad_keyframes_are_refused(change, message):
    with pytest.raises(InputError, match=message):
        Keyframes({**KEYS, **change})


@pytest.mark.parametrize("method", ["mesh", "beier-neely", "dissolve"])
def test_morph_starts_at_a_and_ends_at_b(method):
    a = gradient_image(40, 48)
    b = np.ascontiguousarray(a[::-1, ::-1])
    options = {
        "mesh": {"points_a": SRC[:3] * 0.7, "points_b": DST[:3] * 0.7},
        "beier-neely": {"lines_a": [[[5, 5], [30, 8]]], "lines_b": [[[8, 5], [35, 12]]]},
        "dissolve": {},
    }[method]
    frames = morph(a, b, frames=7, method=method, **options)
    assert len(frames) == 7 and np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)
    assert all(f.shape == a.shape and f.dtype == np.float32 for f in frames)
    middle = frames[3]
    assert not np.allclose(middle, a) and not np.allclose(middle, b)


def test_morph_resizes_b_and_checks_its_input():
    a, b = gradient_image(40, 48), gradient_image(20, 24)
    frames = morph(a, b, frames=3, method="dissolve")
    assert frames[-1].shape == a.shape
    with pytest.raises(InputError, match="at least 2 frames"):
        morph(a, b, frames=1)
    with pytest.raises(InputError, match="needs corresponding points"):
        morph(a, b, method="mesh")
    with pytest.raises(InputError, match="lines_a has 1 segments but lines_b has 2"):
        morph(a, a, method="beier-neely", lines_a=[[[0, 0], [5, 5]]], lines_b=[[[0, 0], [5, 5]], [[1, 0], [1, 9]]])


def test_frames_are_written_as_gif_mp4_and_png_folder(tmp_path):
    frames = [np.full((16, 18, 3), v, np.float32) for v in np.linspace(0, 1, 6)]
    gif = write_frames(frames, tmp_path / "a.gif", fps=10)
    with Image.open(gif) as opened:
        assert opened.n_frames == 6 and opened.info["duration"] == 100
    folder = write_frames(frames, str(tmp_path / "frames") + "/")
    assert sorted(p.name for p in folder.iterdir())[0] == "frame-00000.png" and len(list(folder.iterdir())) == 6
    mp4 = write_frames(frames, tmp_path / "a.mp4", fps=10)
    import imageio.v3 as iio

    assert mp4.stat().st_size > 0 and len(list(iio.imiter(mp4, plugin="FFMPEG"))) == 6
    with pytest.raises(InputError, match=r"unknown output format \(.avi\); supported: .gif, .mp4, or a folder"):
        write_frames(frames, tmp_path / "a.avi")


def test_warp_animate_and_morph_commands(tmp_path, capsys):
    image = (gradient_image() * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(image[::-1].copy()).save(tmp_path / "b.png")
    (tmp_path / "p.json").write_text(json.dumps({"src": SRC.tolist(), "dst": DST.tolist()}))
    (tmp_path / "pairs.json").write_text(json.dumps({"a": SRC.tolist(), "b": DST.tolist()}))
    (tmp_path / "keys.json").write_text(json.dumps(KEYS))
    code, _, err = run_cli(
        capsys,
        "warp",
        str(tmp_path / "a.png"),
        "-o",
        str(tmp_path / "w.png"),
        "--method",
        "mls-rigid",
        "--points",
        str(tmp_path / "p.json"),
    )
    assert code == 0, err
    code, _, err = run_cli(
        capsys,
        "animate",
        str(tmp_path / "a.png"),
        "--keyframes",
        str(tmp_path / "keys.json"),
        "-o",
        str(tmp_path / "anim.gif"),
    )
    assert code == 0, err
    with Image.open(tmp_path / "anim.gif") as opened:
        assert opened.n_frames == 11 and opened.info["duration"] == 200
    code, _, err = run_cli(
        capsys,
        "morph",
        str(tmp_path / "a.png"),
        str(tmp_path / "b.png"),
        "-o",
        str(tmp_path / "m.gif"),
        "--frames",
        "5",
        "--points",
        str(tmp_path / "pairs.json"),
    )
    assert code == 0, err
    with Image.open(tmp_path / "m.gif") as opened:
        assert opened.n_frames == 5


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["warp", "a.png", "-o", "w.png", "--method", "tps"], ["needs --points"]),
        (
            ["warp", "a.png", "-o", "w.png", "--method", "tps", "--points", "broken.json"],
            ["broken.json", "not valid JSON", "line 1"],
        ),
        (
            ["warp", "a.png", "-o", "w.png", "--method", "tps", "--points", "short.json"],
            ["short.json", "tps needs at least 3 point pairs"],
        ),
        (["animate", "a.png", "--keyframes", "backwards.json", "-o", "x.gif"], ["backwards.json", "increase strictly"]),
        (["morph", "a.png", "a.png", "-o", "m.gif", "--frames", "1"], ["--frames must be an integer >= 2, got 1"]),
        (["morph", "a.png", "a.png", "-o", "m.gif", "--method", "mesh"], ["needs --points"]),
    ],
)
def test_bad_deformation_input_exits_2(tmp_path, capsys, args, fragments):
    Image.fromarray((gradient_image() * 255).astype(np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "broken.json").write_text('{"src": [[1, 2]')
    (tmp_path / "short.json").write_text(json.dumps({"src": [[1, 2], [3, 4]], "dst": [[1, 2], [3, 5]]}))
    (tmp_path / "backwards.json").write_text(json.dumps({**KEYS, "keyframes": KEYS["keyframes"][::-1]}))
    paths = [str(tmp_path / a) if a.endswith((".png", ".json", ".gif")) else a for a in args]
    code, _, err = run_cli(capsys, *paths)
    assert_one_line_error(code, err, *fragments)


def test_frame_counts_that_cannot_fit_are_refused_before_any_frame_is_made():
    from imsynth.classical import morph

    image = np.zeros((64, 64, 3), np.float32)
    with pytest.raises(InputError, match=r"1000000000 frames: needs .* GiB for its arrays"):
        morph(image, image, frames=10**9, method="dissolve")
