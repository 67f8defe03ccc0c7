import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from imsynth.train import TrainConfig, train
from tests.helpers import assert_one_line_error, run_cli, tiny_dataset


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    data = tiny_dataset()
    train(
        "vae",
        data,
        out,
        train_config=TrainConfig(steps=3, batch_size=16, precision="fp32", sample_every=100),
        quiet=True,
    )
    return out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    from imsynth.data import load_dataset

    train(
        "cvae",
        load_dataset("digits"),
        out,
        train_config=TrainConfig(steps=20, batch_size=64, sample_every=100),
        quiet=True,
    )
    return out


def test_datasets_lists_every_dataset_with_availability(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names == [
        "crops:PATH",
        "digits",
        "fashion-mnist",
        "fashion-pages",
        "folder:PATH",
        "fortunes",
        "frames:FOLDER[?frames=N&stride=N&size=N]",
        "moving-digits",
        "moving-fashion",
        "moving-shapes",
        "npz:PATH",
        "pairs:NAME~TRANSFORM",
        "photos",
        "shapes",
        "text:PATH[?unit=sentence&vocab=N&max_tokens=N]",
        "unpaired:A,B",
        "video:FILE[?frames=N&stride=N&size=N]",
    ]
    assert out.splitlines()[0].split()[1] == "yes"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "gan9000", "--out", "X"], ["unknown model 'gan9000'", "beta-vae"]),
        (["train", "vae", "--data", "mnist-3d", "--out", "X"], ["unknown dataset 'mnist-3d'", "digits"]),
        (["train", "vae", "--out", "X", "--set", "colour=red"], ["--set colour: unknown key"]),
        (["train", "vae", "--out", "X", "--set", "latent_dim=many"], ["latent_dim: expected an integer"]),
        (["train", "vae", "--out", "X", "--steps", "lots"], ["--steps: 'lots' is not a whole number"]),
        (["train", "vae", "--out", "X", "--device", "tpu"], ["unknown device 'tpu'"]),
        (["sample", "nowhere", "-o", "x.png"], ["nowhere: no such run directory"]),
        (["eval", "nowhere"], ["nowhere: no such run directory"]),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "X").exists()  # nothing half-written


def test_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "sample", str(tmp_path), "-o", str(tmp_path / "g.png"))
    assert_one_line_error(code, err, "not a run (no config.json)")


@pytest.mark.parametrize("problem", ["corrupt", "truncated", "zero-byte", "bomb"])
def test_bad_images_in_a_folder_dataset(capsys, tmp_path, monkeypatch, problem):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.new("L", (16, 16), color=index * 60).save(folder / f"ok{index}.png")
    bad = folder / "bad.png"
    if problem == "corrupt":
        bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    elif problem == "truncated":
        Image.fromarray((np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:100])
    elif problem == "zero-byte":
        bad.write_bytes(b"")
    else:
        Image.new("L", (100, 100)).save(bad)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    code, _, err = run_cli(capsys, "train", "vae", "--data", f"folder:{folder}", "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "bad.png")
    assert not (tmp_path / "run").exists()


def test_empty_folder_dataset(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "vae", "--data", f"folder:{tmp_path}", "--out", str(tmp_path / "run"))
    assert_one_line_error(code, err, "no image files found")


def test_damaged_checkpoint(capsys, tmp_path, tiny_run):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "model.safetensors").write_bytes((broken / "model.safetensors").read_bytes()[:200])
    code, _, err = run_cli(capsys, "sample", str(broken), "-o", str(tmp_path / "g.png"))
    assert_one_line_error(code, err, "model.safetensors: damaged safetensors file")
    assert not (tmp_path / "g.png").exists()


def test_sample_writes_grid_npz_and_folder(capsys, tmp_path, tiny_run):
    assert run_cli(capsys, "sample", str(tiny_run), "-n", "6", "-o", str(tmp_path / "g.png"))[0] == 0
    assert Image.open(tmp_path / "g.png").size[0] > 8
    assert run_cli(capsys, "sample", str(tiny_run), "-n", "6", "-o", str(tmp_path / "s.npz"))[0] == 0
    archive = np.load(tmp_path / "s.npz")
    assert archive["images"].shape == (6, 8, 8, 1) and archive["images"].dtype == np.uint8
    assert run_cli(capsys, "sample", str(tiny_run), "-n", "5", "-o", str(tmp_path / "each") + "/")[0] == 0
    assert len(list((tmp_path / "each").glob("*.png"))) == 5
    code, _, err = run_cli(capsys, "sample", str(tiny_run), "-n", "2", "--class", "1", "-o", str(tmp_path / "c.png"))
    assert_one_line_error(code, err, "not class-conditional")
    code, _, err = run_cli(capsys, "sample", str(tiny_run), "-o", str(tmp_path / "x.tiffany"))
    assert_one_line_error(code, err, "unknown output format (.tiffany); supported: .png")


def test_conditional_sampling_and_eval_json(capsys, tmp_path, digits_run):
    code, _, err = run_cli(capsys, "sample", str(digits_run), "-n", "4", "--class", "10", "-o", str(tmp_path / "c.png"))
    assert_one_line_error(code, err, "class must be in 0..9")
    assert run_cli(capsys, "sample", str(digits_run), "-n", "4", "--class", "7", "-o", str(tmp_path / "c.npz"))[0] == 0
    assert np.load(tmp_path / "c.npz")["labels"].tolist() == [7, 7, 7, 7]
    code, out, _ = run_cli(capsys, "eval", str(digits_run), "--n", "200", "--k", "8", "--likelihood-images", "50")
    assert code == 0
    report = json.loads(out)
    assert report["likelihood"]["iw_samples"] == 8 and report["likelihood"]["iw_nll"] > 0
    quality = report["sample_quality"]
    assert quality["feature_net"]["name"] == "imsynth-featurenet-digits"
    assert quality["fid"] > quality["fid_floor_train_vs_test"] > 0
    assert 0 <= quality["precision"] <= 1 and quality["n"] == 200
    code, _, err = run_cli(capsys, "eval", str(digits_run), "--inception", str(tmp_path / "none.pth"))
    assert_one_line_error(code, err, "no such Inception weights file")


def test_real_process_exit_codes_and_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "imsynth.cli", "train", "vae", "--data", "nope", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        == "imsynth: error: unknown dataset 'nope'; valid: crops:PATH, digits, fashion-mnist, fashion-pages, folder:PATH, fortunes, frames:FOLDER[?frames=N&stride=N&size=N], moving-digits, moving-fashion, moving-shapes, npz:PATH, pairs:NAME~TRANSFORM, photos, shapes, text:PATH[?unit=sentence&vocab=N&max_tokens=N], unpaired:A,B, video:FILE[?frames=N&stride=N&size=N]"
    )
    helped = subprocess.run(
        [sys.executable, "-m", "imsynth.cli", "train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0 and "Example:" in helped.stdout


def test_checkpoint_with_wrong_shapes(capsys, tmp_path, tiny_run):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    config = json.loads((other / "config.json").read_text())
    config["model_config"]["latent_dim"] = 3
    (other / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(capsys, "sample", str(other), "-o", str(tmp_path / "g.png"))
    assert_one_line_error(code, err, "model.safetensors: weight", "the model expects")


@pytest.mark.parametrize(
    "out, fragment",
    [
        ("blocked/x.png", "cannot create the output folder"),
        ("x.xyz", "unknown output format (.xyz); supported: .png, .jpg, .jpeg, .tif, .tiff, .bmp, .webp"),
    ],
)
def test_outputs_that_cannot_be_written_exit_2_naming_them(tmp_path, capsys, out, fragment):
    from imsynth.image import save_image

    save_image(tmp_path / "in.png", np.zeros((8, 8)))
    (tmp_path / "blocked").write_text("a file where a folder should be")
    code, _, err = run_cli(capsys, "resize", str(tmp_path / "in.png"), "-o", str(tmp_path / out), "--scale", "2")
    assert_one_line_error(code, err, fragment)
    assert not list(tmp_path.rglob("*.tmp*"))


def test_the_classical_commands_never_import_torch(tmp_path):
    import subprocess
    import sys

    from imsynth.image import save_image

    save_image(tmp_path / "in.png", np.zeros((8, 8)))
    script = (
        "import sys; from imsynth.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    for args in (
        ["resize", "in.png", "-o", "out.png", "--scale", "2"],
        ["texture", "in.png", "-o", "t.png", "--size", "16x16", "--block", "4"],
    ):
        done = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


@pytest.mark.parametrize("words", [(), ("features",)])
def test_a_command_group_alone_prints_its_help_as_help_does(capsys, words):
    code, out, err = run_cli(capsys, *words)
    asked, shown, _ = run_cli(capsys, *words, "--help")
    assert (code, asked, err) == (0, 0, "")
    assert out == shown and out.startswith("Usage: imsynth") and len(out.splitlines()) > 5
