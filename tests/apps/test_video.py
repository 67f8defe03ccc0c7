import json

import numpy as np
import pytest
import torch
from PIL import Image

from imsynth.clips import write_frames
from imsynth.data import load_dataset
from imsynth.errors import InputError
from imsynth.evaluate import clips_to_score
from imsynth.image import save_image
from imsynth.metrics.clip_features import train_clip_feature_net
from imsynth.models import load_run, sampling_config
from tests.helpers import assert_one_line_error, run_cli, tiny_clips, tiny_run


@pytest.fixture(scope="module")
def clip_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    data = tiny_clips(count=64, frames=6, size=8)
    return {name: tiny_run(root, name, steps=4, data=data) for name in ("svg", "dsvae", "video-ddpm")}


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """A real MP4 (H.264) of 8 frames: a bright square sliding right."""
    clip = tiny_clips(count=1, frames=8, size=8).train_images[0, :, 0].numpy()
    path = tmp_path_factory.mktemp("clip") / "slide.mp4"
    write_frames([frame.astype(np.float32) / 255 for frame in clip], path, fps=8)
    return path


def test_predict_writes_the_futures_beside_the_real_clip_and_scores_them(capsys, tmp_path, clip_runs, clip_file):
    out = tmp_path / "futures.gif"
    code, printed, err = run_cli(
        capsys,
        "predict",
        str(clip_runs["svg"]),
        str(clip_file),
        "-o",
        str(out),
        "--context",
        "3",
        "--frames",
        "4",
        "-n",
        "2",
    )
    assert code == 0, err
    report = json.loads(printed)
    assert report["fps"] == 10.0 and report["seconds"] == 0.7 and report["frames"] == 7
    assert report["clips"] == 3 and report["samples"] == 2  # the real clip, then two futures
    scores = report["scores"]
    assert scores["samples"] == 2 and len(scores["ssim"]["best"]["per_frame"]) == 4
    # the baseline copies the last context frame and is scored on the frames after it: on a clip whose first frame
    # alone differs, it is exact (the 100 dB cap), where copying the first frame would not be
    still = [np.zeros((8, 8))] + [np.full((8, 8), 0.6)] * 7
    write_frames(still, tmp_path / "still.gif")
    code, printed, err = run_cli(
        capsys, "predict", str(clip_runs["svg"]), str(tmp_path / "still.gif"), "-o", str(tmp_path / "s.npz"),
        "--context", "3", "--frames", "4", "-n", "1",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(printed)["scores"]["copy_last_frame"]["psnr"]["per_frame"] == [100.0] * 4
    with Image.open(out) as gif:
        assert gif.n_frames == 7 and gif.info["duration"] == 100
        assert gif.size[0] > 2.5 * gif.size[1]  # three panels side by side
    code, printed, _ = run_cli(
        capsys,
        "predict",
        str(clip_runs["svg"]),
        str(clip_file),
        "-o",
        str(tmp_path / "f.npz"),
        "--frames",
        "8",
        "-n",
        "3",
    )
    archive = np.load(tmp_path / "f.npz")
    assert code == 0 and archive["clips"].shape == (4, 2 + 8, 8, 8, 1) and archive["clips"].dtype == np.uint8
    assert "nothing to score against" in json.loads(printed)["scores"]  # 8 frames given, 2 + 8 asked


def test_swap_and_sample_write_clips(capsys, tmp_path, clip_runs, clip_file):
    code, printed, err = run_cli(
        capsys, "swap", str(clip_runs["dsvae"]), str(clip_file), str(clip_file), "-o", str(tmp_path / "s.mp4")
    )
    assert code == 0, err
    assert json.loads(printed)["panels"] == "content, motion, swapped" and (tmp_path / "s.mp4").stat().st_size > 0
    assert run_cli(capsys, "sample", str(clip_runs["dsvae"]), "-n", "3", "-o", f"{tmp_path}/each/")[0] == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [
        "clip-00000.gif",
        "clip-00001.gif",
        "clip-00002.gif",
    ]
    assert run_cli(capsys, "sample", str(clip_runs["dsvae"]), "-n", "2", "-o", str(tmp_path / "c.npz"))[0] == 0
    assert np.load(tmp_path / "c.npz")["clips"].shape == (2, 6, 8, 8, 1)


def test_interpolate_and_sample_a_video_diffusion_run(capsys, tmp_path, clip_runs):
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    frames = tiny_clips(count=1, frames=6, size=8).train_images[0, :, 0].numpy()
    save_image(first, frames[0] / 255.0)
    save_image(last, frames[-1] / 255.0)
    run = str(clip_runs["video-ddpm"])
    code, printed, err = run_cli(
        capsys, "interpolate", run, str(first), str(last), "--frames", "4", "-n", "2", "-o", str(tmp_path / "b.npz")
    )
    assert code == 0, err
    clips = np.load(tmp_path / "b.npz")["clips"]
    assert clips.shape == (2, 6, 8, 8, 1) and json.loads(printed)["between"] == 4
    assert np.array_equal(clips[:, 0, ..., 0], np.stack([frames[0]] * 2))  # played from FIRST ...
    assert np.array_equal(clips[:, -1, ..., 0], np.stack([frames[-1]] * 2))  # ... to LAST
    code, _, err = run_cli(
        capsys, "sample", run, "-n", "2", "--steps", "2", "--sampler", "ddpm", "-o", str(tmp_path / "s.gif")
    )
    assert code == 0, err
    with Image.open(tmp_path / "s.gif") as gif:
        assert gif.n_frames == 6
    code, _, err = run_cli(
        capsys, "interpolate", str(clip_runs["dsvae"]), str(first), str(last), "-o", str(tmp_path / "x.gif")
    )
    assert_one_line_error(code, err, "model 'dsvae' (clips) cannot interpolate between frames; runs of video-ddpm can")
    assert not (tmp_path / "x.gif").exists()


def test_eval_of_a_video_run_reports_prediction_against_copying_the_last_frame(capsys, clip_runs):
    data = "moving-digits?frames=6&train=8&test=8"  # the run trained on unregistered tiny clips
    code, printed, err = run_cli(capsys, "eval", str(clip_runs["svg"]), "--n", "8", "--data", data, "--futures", "3")
    assert code == 0, err
    report = json.loads(printed)
    prediction = report["prediction"]
    context = prediction["context"]
    assert prediction["frames"] == 6 - context and prediction["samples"] == 3 and prediction["clips"] == 8
    for scores in (prediction["ssim"]["best"], prediction["ssim"]["mean"], prediction["copy_last_frame"]["psnr"]):
        assert len(scores["per_frame"]) == 6 - context
    # svg draws nothing from nothing: its clips for the video distances are the real context and a prediction
    quality = report["video_quality"]
    assert quality["generated"] == f"{context} real frames, then one prediction" and quality["clips"] == 8
    assert "no clip feature network for dataset 'moving-digits'" in quality["fvd"]["skipped"]
    first, second = quality["frame_fid"]  # the digits' shipped image network, and no second one for digits
    assert first["frames"] == 48 and first["feature_net"]["dataset"] == "digits"
    assert first["fid"] > first["fid_floor_train_vs_test"]  # 4 training steps: far from real frames
    assert "digits" in second["skipped"]


@pytest.fixture(scope="module")
def digits_clip_net(tmp_path_factory):
    out = tmp_path_factory.mktemp("clipnet") / "moving-digits.clip3d.safetensors"
    train_clip_feature_net(load_dataset("moving-digits?frames=6&train=64&test=16"), out, epochs=1, quiet=True)
    return out


def test_eval_of_a_swapping_run_judges_its_swaps_on_the_clip_network(capsys, clip_runs, digits_clip_net):
    data = "moving-digits?frames=6&train=16&test=16&items=1"
    code, printed, err = run_cli(
        capsys, "eval", str(clip_runs["dsvae"]), "--n", "16", "--data", data, "--feature-net", str(digits_clip_net)
    )
    assert code == 0, err
    report = json.loads(printed)
    fvd = report["video_quality"]["fvd"]
    assert report["video_quality"]["generated"] == "samples" and fvd["clip_net"]["path"] == str(digits_clip_net)
    assert set(fvd) >= {"fvd", "kvd", "fvd_floor_train_vs_test"}
    swap = report["swap"]
    assert swap["judged_against"] == "true factors" and swap["clips"] == 16
    assert set(swap["per_factor"]) == set(swap["clip_net_accuracy_on_real"]) == {"item", "direction", "speed"}
    # content kept means every content factor (here the item alone) is kept
    assert swap["content_kept"] == swap["per_factor"]["item"]
    damaged = digits_clip_net.parent / "damaged.safetensors"
    damaged.write_bytes(digits_clip_net.read_bytes()[:300])
    code, _, err = run_cli(
        capsys, "eval", str(clip_runs["dsvae"]), "--n", "4", "--data", data, "--feature-net", str(damaged)
    )
    assert_one_line_error(code, err, "damaged.safetensors")


def test_video_mistakes_are_one_line_and_write_nothing(capsys, tmp_path, clip_runs, clip_file, vae_run):
    svg, dsvae = str(clip_runs["svg"]), str(clip_runs["dsvae"])
    out = tmp_path / "x.gif"
    code, _, err = run_cli(capsys, "swap", svg, str(clip_file), str(clip_file), "-o", str(out))
    assert_one_line_error(code, err, "model 'svg' (clips) cannot swap content and motion; runs of dsvae can")
    code, _, err = run_cli(capsys, "predict", str(vae_run), str(clip_file), "-o", str(out))
    assert_one_line_error(
        code, err, "model 'vae' (images, not clips) cannot predict frames; runs of dsvae, svg, svg-det, video-ddpm can"
    )
    code, _, err = run_cli(capsys, "sample", svg, "-o", str(out))
    assert_one_line_error(code, err, "does not draw clips from nothing", "imsynth predict")
    code, _, err = run_cli(capsys, "predict", svg, str(clip_file), "-o", str(out), "--frames", "0")
    assert_one_line_error(code, err, "--frames must be an integer from 1 to 1000, got 0")
    code, _, err = run_cli(capsys, "predict", svg, str(clip_file), "-o", str(out), "--context", "9")
    assert_one_line_error(code, err, "the clip has 8 frames, fewer than --context 9")
    save_image(tmp_path / "still.png", np.zeros((8, 8)))
    code, _, err = run_cli(capsys, "predict", dsvae, str(tmp_path / "still.png"), "-o", str(out))
    assert_one_line_error(code, err, "still.png: not a clip (.png)")
    (tmp_path / "broken.mp4").write_bytes(clip_file.read_bytes()[:40])
    code, _, err = run_cli(capsys, "predict", dsvae, str(tmp_path / "broken.mp4"), "-o", str(out))
    assert_one_line_error(code, err, "broken.mp4")
    code, _, err = run_cli(capsys, "predict", dsvae, str(clip_file), "-o", str(tmp_path / "x.tiff"))
    assert_one_line_error(code, err, "unknown output format (.tiff)")
    code, _, err = run_cli(capsys, "train", "svg", "--data", "digits", "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "model svg trains on clips (", "moving-digits", "digits holds images")
    assert not out.exists() and not (tmp_path / "r").exists()


def test_a_diffusion_run_is_scored_on_its_predictions_when_asked_like_for_like_with_svg(clip_runs, vae_run):
    model = load_run(clip_runs["video-ddpm"])[0]
    model.config = sampling_config(model, "ddim", 2)
    data = tiny_clips(count=64, frames=6, size=8)
    real = data.test_images[:3]
    drawn, origin = clips_to_score(model, data, real, 2, seed=0)
    assert origin == "samples"
    predicted, origin = clips_to_score(model, data, real, 2, seed=0, predict=True)
    assert origin == "2 real frames, then one prediction" and predicted.shape == drawn.shape
    assert torch.equal(predicted[:, :2], data.to_batch(real[:, :2]))  # the context is the real clip's ...
    assert not torch.equal(drawn[:, :2], predicted[:, :2])  # ... where a drawn clip's is the model's own
    with pytest.raises(InputError, match="model 'vae' does not predict"):
        clips_to_score(load_run(vae_run)[0], data, real, 2, seed=0, predict=True)
