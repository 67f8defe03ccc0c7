import json

from PIL import Image

from imsynth.apps.demo import run_demo


def test_demo_writes_every_picture_and_a_page_that_shows_them(tmp_path):
    index = run_demo(tmp_path / "demo", steps=40, quiet=True)
    out = tmp_path / "demo"
    page = index.read_text()
    for name in ("samples.png", "reconstructions.png", "traversals.png", "interpolation.gif", "curves.png"):
        assert (out / name).is_file() and f'src="{name}"' in page
    assert Image.open(out / "samples.png").size == ((10 * 8 + 11 * 2) * 8,) * 2  # 10x10 grid of 8x8 digits, x8
    assert Image.open(out / "traversals.png").size == ((11 * 8 + 12 * 2) * 8, (8 * 8 + 9 * 2) * 8)  # 8 rows of 11
    gif = Image.open(out / "interpolation.gif")
    total_ms = 0
    for frame in range(gif.n_frames):  # identical neighbouring frames are merged, their durations summed
        gif.seek(frame)
        total_ms += gif.info["duration"]
    assert total_ms == 4 * 11 * 90
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training"]["steps"] == 40
    assert metrics["likelihood"]["iw_nll"] <= -metrics["likelihood"]["elbo"] + 1e-3
    assert metrics["sample_quality"]["feature_net"]["dataset"] == "digits"
