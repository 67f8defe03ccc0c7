"""The studio in a real browser: each tab's main action makes its output, bad input shows the library's message
in the page and the server keeps serving, and no request leaves the machine (checked after every test)."""

import io
import json
import re
import time

import numpy as np
import pytest
from PIL import Image

from imsynth.apps.classical import texture_file
from imsynth.apps.compress import compress_path
from imsynth.image import load_image
from tests.studio.conftest import MAX_MEGAPIXELS, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("studio")]


def open_tab(page, *names):
    for name in names:
        page.get_by_role("tab", name=name, exact=True).click()


def click(page, name):
    page.get_by_role("button", name=name, exact=True).filter(visible=True).first.click()


def result(page, elem_id, timeout=90_000) -> np.ndarray:
    """The image a component shows, fetched from the server as the browser got it."""
    image = page.locator(f"#{elem_id} img").first
    try:
        image.wait_for(timeout=timeout)
    except Exception as error:
        screenshot(page, f"failed-{elem_id}")  # the page as it was
        said = page.evaluate("window.__toasts")  # an error toast says why
        raise AssertionError(f"no image in #{elem_id}; the page says {said}") from error
    data = page.request.get(image.get_attribute("src")).body()
    return np.asarray(Image.open(io.BytesIO(data)))


def upload(page, elem_id, path):
    page.locator(f"#{elem_id} input[type=file]").first.set_input_files(str(path))
    page.locator(f"#{elem_id} img[src*='{path.name}']").first.wait_for(timeout=30_000)


def expect_error(page, fragment, timeout=60_000):
    """Wait for a message with the fragment among the toasts shown since the last one this found (the page's
    recorder keeps them after Gradio removes them), and take those toasts off the record."""
    try:
        page.wait_for_function(
            "fragment => window.__toasts.some(text => text.toLowerCase().includes(fragment))",
            arg=fragment.lower(),
            timeout=timeout,
        )
    except Exception as error:
        screenshot(page, "failed-" + "".join(c if c.isalnum() else "-" for c in fragment)[:40])
        said = page.evaluate("window.__toasts")  # another message instead says what went wrong
        raise AssertionError(f"no message with {fragment!r}; the page said {said}") from error
    page.evaluate(
        "fragment => { const at = window.__toasts.findIndex(text => text.toLowerCase().includes(fragment));"
        " window.__toasts.splice(0, at + 1); }",
        fragment.lower(),
    )


def choose(page, elem_id, option):
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option, exact=True).first.click()


def ramp(path, size=8):
    """A small grey image the size of the tiny runs' data."""
    Image.fromarray((np.indices((size, size)).sum(0) * (255 // (2 * size))).astype(np.uint8)).save(path)
    return path


def upload_to_editor(page, elem_id, path, tries=3):
    """Give the image editor a file and wait until it shows it (its empty-state prompt gone). Under load a file
    set while the freshly opened tab is still mounting was seen to be dropped (the prompt stayed for 30 s), so
    the upload is given again, as a user would."""
    prompt = page.locator(f"#{elem_id}").get_by_text("Upload an image")
    for attempt in range(tries):
        page.locator(f"#{elem_id} input[type=file]").first.set_input_files(str(path))
        try:
            prompt.wait_for(state="hidden", timeout=20_000)
            return
        except Exception:
            if attempt == tries - 1:
                screenshot(page, f"failed-{elem_id}")
                raise


def fill(page, elem_id, text, tries=3):
    """Type into a text box and see that it kept the text. A box in a tab opened a moment ago can still be
    mounting, and under load a value typed then was taken back to the default (CI: the Train tab's run name
    stayed 'studio-vae', so Start answered for that run, not for the name typed)."""
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    for _ in range(tries):
        box.fill(text)
        page.wait_for_timeout(300)
        if box.input_value() == text:
            return
    raise AssertionError(f"#{elem_id} shows {box.input_value()!r} after typing {text!r} {tries} times")


def set_code(page, elem_id, text):
    editor = page.locator(f"#{elem_id} .cm-content").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    editor.fill(text)


def test_classical_tab_fills_synthesises_resizes_and_blends_like_the_library(page, studio, tmp_path):
    _, served = studio
    open_tab(page, "Inpaint")
    click(page, "Fill")  # the preloaded astronaut with its preloaded stroke, PatchMatch
    filled = result(page, "inpaint-result")
    assert filled.shape == (512, 512, 3)
    screenshot(page, "classical-inpaint")
    open_tab(page, "Texture")
    click(page, "Synthesise")
    shown = result(page, "texture-result")
    # the same call from Python gives the same pixels: the studio adds nothing of its own
    sample = served.imsynth_state.work / "examples" / "brick-96.png"
    expected = load_image(texture_file(sample, tmp_path / "t.png", size=(192, 192), method="quilting"))
    assert shown.shape == (192, 192) and np.array_equal(shown, np.round(expected * 255).astype(np.uint8))
    screenshot(page, "classical-texture")
    open_tab(page, "Resize")
    click(page, "Resize")
    assert result(page, "resize-result").shape == (256, 256)
    open_tab(page, "Blend")
    click(page, "Blend")
    assert result(page, "blend-result").shape == (400, 400, 3)


def test_deform_tab_places_points_by_clicking_and_warps_animates_morphs(page):
    open_tab(page, "Deform", "Warp")
    code = "document.querySelector('#warp-points .cm-content').innerText"
    click(page, "Clear points")
    page.wait_for_function(f"() => {code}.includes('\"src\": []')", timeout=10_000)
    image = page.locator("#warp-image img").first
    box = image.bounding_box()
    for (fx, fy), done in (((0.25, 0.25), '"dst": []'), ((0.3, 0.3), '"dst": [[')):  # a pair: from, then to
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_function(f"() => {code}.includes('{done}') && !{code}.includes('\"src\": []')", timeout=10_000)
    points = json.loads(page.locator("#warp-points .cm-content").inner_text())
    assert len(points["src"]) == len(points["dst"]) == 1
    (x0, y0), (x1, y1) = points["src"][0], points["dst"][0]
    assert 100 < x0 < 160 and 100 < y0 < 160 and x1 > x0 and y1 > y0  # image pixels, not screen pixels
    choose(page, "warp-method", "swirl")  # a method that needs no points: the table says so
    click(page, "Warp")
    assert result(page, "warp-result").shape == (512, 512, 3)
    screenshot(page, "deform-warp")
    open_tab(page, "Animate")
    click(page, "Animate")
    result(page, "animate-result")
    open_tab(page, "Morph")
    click(page, "Morph")
    assert result(page, "morph-result").shape[:2] == (400, 400)
    screenshot(page, "deform-morph")


def test_generate_tab_samples_explores_and_moves_along_directions(page):
    open_tab(page, "Generate")
    choose(page, "generate-run", "vae")
    page.get_by_text("latent-features").first.wait_for(timeout=30_000)  # the run's declared capabilities
    open_tab(page, "Sample")
    click(page, "Sample")
    grid = result(page, "sample-result")
    assert grid.shape[0] > 8 * 8 and grid.shape[1] > 8 * 8  # 64 digits in a grid
    screenshot(page, "generate-sample")
    open_tab(page, "Explore")
    click(page, "Explore")
    result(page, "explore-result")
    open_tab(page, "Directions")
    click(page, "Find directions")
    before = result(page, "directions-result")
    shown = page.locator("#directions-result img").first.get_attribute("src")
    # drag the first direction's slider near its end, as a user would: releasing it moves the image
    track = page.locator("#direction-1 input[type=range]").first.bounding_box()
    page.mouse.click(track["x"] + track["width"] * 0.95, track["y"] + track["height"] / 2)
    page.wait_for_function(
        "old => { const i = document.querySelector('#directions-result img'); return i && i.src !== old; }",
        arg=shown,
        timeout=90_000,
    )
    assert float(page.locator("#direction-1 input[type=number]").first.input_value()) > 2
    moved = result(page, "directions-result")
    assert moved.shape == before.shape and np.abs(moved.astype(int) - before.astype(int)).max() > 0
    screenshot(page, "generate-directions")


def test_generate_tab_writes_sentences_from_a_text_run(page):
    open_tab(page, "Generate")
    choose(page, "generate-run", "text-vae")
    page.get_by_text("sentence-encoder").first.wait_for(timeout=30_000)
    open_tab(page, "Sample")
    fill(page, "sample-count", "10")
    click(page, "Sample")
    page.wait_for_function("() => document.querySelector('#sample-lines textarea').value.split('\\n').length == 10")
    open_tab(page, "Explore")
    fill(page, "explore-start", "the cat sees the ball .")
    fill(page, "explore-end", "a dog eats some bread .")
    click(page, "Explore")
    page.wait_for_function("() => document.querySelector('#explore-lines textarea').value.split('\\n').length == 8")
    open_tab(page, "Reconstruct")
    fill(page, "reconstruct-sentence", "The cat sees the ball.")
    click(page, "Reconstruct")
    page.locator("#reconstruct-report").get_by_text("the cat sees the ball.").first.wait_for(timeout=60_000)  # as read
    screenshot(page, "generate-text")


def test_restore_tab_denoises_stylises_compresses_and_fills_with_a_model(page, studio, tmp_path):
    _, served = studio
    open_tab(page, "Restore and edit")
    choose(page, "restore-run", "vae")
    open_tab(page, "Corrupt")
    click(page, "Damage")
    damaged = result(page, "corrupt-result")
    Image.fromarray(damaged).save(tmp_path / "damaged.png")
    open_tab(page, "Denoise")
    upload(page, "denoise-source", tmp_path / "damaged.png")
    click(page, "Restore")
    assert result(page, "denoise-result").shape == (128, 128)
    screenshot(page, "restore-denoise")
    open_tab(page, "Stylize")
    choose(page, "stylize-method", "quilt")
    click(page, "Stylize")
    result(page, "stylize-result")
    open_tab(page, "Compress")
    digit = ramp(tmp_path / "digit.png")
    upload(page, "compress-source", digit)
    page.locator("#compress-run input").first.check()  # the chosen run, not the codec imsynth ships
    click(page, "Compress")
    page.locator("#compress-report").get_by_text("bpp").first.wait_for(timeout=60_000)
    page.locator("#compress-file").get_by_text(".isz").first.wait_for(timeout=30_000)  # the bitstream to download
    screenshot(page, "restore-compress")
    stream = compress_path(digit, tmp_path / "digit.isz", served.imsynth_state.runs_root / "vae")["out"]
    open_tab(page, "Decompress")
    page.locator("#decompress-source input[type=file]").first.set_input_files(stream)
    click(page, "Decompress")  # the run that wrote it is found by its weights' fingerprint
    assert result(page, "decompress-result").shape == (8, 8)
    page.locator("#decompress-source button[aria-label='Clear']").first.click()
    page.locator("#decompress-source input[type=file]").first.set_input_files(str(digit))  # a PNG, not a stream
    page.wait_for_timeout(1000)
    click(page, "Decompress")
    expect_error(page, "not an imsynth compressed stream")
    open_tab(page, "Inpaint with a run")
    mask = tmp_path / "mask.png"
    hole = np.zeros((8, 8), dtype=np.uint8)
    hole[2:5, 2:5] = 255
    Image.fromarray(hole).save(mask)
    upload_to_editor(page, "restore-inpaint-editor", digit)
    upload(page, "restore-inpaint-mask", mask)
    choose(page, "restore-inpaint-method", "gan")
    page.locator("#restore-inpaint-run input").first.check()
    click(page, "Fill")
    assert result(page, "restore-inpaint-result").shape == (8, 8)


def test_restore_tab_translates_and_measures_purification(page, tmp_path):
    open_tab(page, "Restore and edit")
    choose(page, "restore-run", "pix2pix")
    open_tab(page, "Translate")
    digit = ramp(tmp_path / "digit.png")
    upload(page, "translate-source", digit)
    click(page, "Translate")
    assert result(page, "translate-result").shape == (8, 8)
    open_tab(page, "Robustness")
    choose(page, "robustness-attack", "fgsm")
    choose(page, "robustness-defence", "jpeg")  # a defence, so the adaptive attack runs too
    fill(page, "robustness-images", "40")
    click(page, "Measure")
    page.locator("#robustness-report").get_by_text("adaptive").first.wait_for(timeout=120_000)
    screenshot(page, "restore-purification")


def test_video_tab_predicts_and_swaps_clips_and_plays_them(page, tmp_path):
    from imsynth.clips import write_frames
    from tests.helpers import tiny_clips

    frames = tiny_clips(count=1, frames=6).train_images[0, :, 0].numpy()
    clip = write_frames([frame / 255.0 for frame in frames], tmp_path / "slide.gif", fps=5)
    open_tab(page, "Video")
    choose(page, "video-run", "dsvae")
    open_tab(page, "Predict")
    page.locator("#predict-clip input[type=file]").first.set_input_files(str(clip))
    fill(page, "predict-frames", "4")
    click(page, "Predict")
    played = result(page, "predict-result")  # the GIF the page shows: the real clip and the futures side by side
    assert played.shape[1] > 4 * played.shape[0]  # five panels: the clip, then -n 4 futures
    page.locator("#predict-report").get_by_text("copy_last_frame").first.wait_for(timeout=30_000)
    open_tab(page, "Swap")
    page.locator("#swap-content input[type=file]").first.set_input_files(str(clip))
    page.locator("#swap-motion input[type=file]").first.set_input_files(str(clip))
    click(page, "Swap")
    result(page, "swap-result")
    screenshot(page, "video-swap")


def test_train_tab_starts_refuses_a_second_start_stops_and_lists_the_run(page, studio):
    _, served = studio
    open_tab(page, "Train")
    fill(page, "train-name", "studio-vae")
    fill(page, "train-minutes", "")
    fill(page, "train-steps", "100000")
    fill(page, "train-assignments", "width=8\nlatent_dim=4\ntrain.log_every=5\ntrain.sample_every=20")
    click(page, "Start")
    page.locator("#train-progress").get_by_text(re.compile("^training")).first.wait_for(timeout=60_000)
    click(page, "Start")
    expect_error(page, "already training here")
    deadline = time.time() + 120
    while time.time() < deadline and served.imsynth_state.jobs:
        status = next(iter(served.imsynth_state.jobs.values())).status()
        if status["step"] >= 20:
            break
        time.sleep(0.5)
    page.locator("#train-samples img").first.wait_for(timeout=30_000)  # the run's newest grid, shown live
    screenshot(page, "train")
    click(page, "Stop (writes a checkpoint)")
    page.locator("#train-progress").get_by_text(re.compile("^not training")).first.wait_for(timeout=120_000)
    assert (served.imsynth_state.runs_root / "studio-vae" / "state" / "latest.json").is_file()
    open_tab(page, "Runs")
    click(page, "Refresh runs")
    choose(page, "runs-run", "vae")
    page.locator("#runs-samples img").first.wait_for(timeout=30_000)
    page.locator("#runs-metrics").locator("visible=true").first.wait_for()
    fill(page, "eval-n", "300")
    fill(page, "eval-importance_samples", "20")
    fill(page, "eval-likelihood_images", "100")
    click(page, "Evaluate")
    page.locator("#eval-report").get_by_text("sample_quality").first.wait_for(timeout=120_000)
    screenshot(page, "runs")


def test_bad_input_shows_the_message_in_the_page_writes_nothing_and_the_server_keeps_serving(page, studio, tmp_path):
    _, served = studio
    runs_before = sorted(p.name for p in served.imsynth_state.runs_root.iterdir())
    open_tab(page, "Texture")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    page.locator("#texture-sample input[type=file]").first.set_input_files(str(corrupt))
    page.wait_for_timeout(1500)
    click(page, "Synthesise")
    expect_error(page, "not a readable image")
    text = tmp_path / "notes.png"
    text.write_text("these are words, not pixels\n")
    page.locator("#texture-sample input[type=file]").first.set_input_files(str(text))
    page.wait_for_timeout(1500)
    click(page, "Synthesise")
    expect_error(page, "notes.png: not a readable image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    page.locator("#texture-sample input[type=file]").first.set_input_files(str(empty))
    page.wait_for_timeout(1500)
    click(page, "Synthesise")
    expect_error(page, "empty")
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((1000, int(MAX_MEGAPIXELS * 1e6 / 1000) + 50), dtype=np.uint8)).save(big)
    upload(page, "texture-sample", big)
    click(page, "Synthesise")
    expect_error(page, "more than the limit of 1.0")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(3 * 1024 * 1024))
    page.locator("#texture-sample input[type=file]").first.set_input_files(str(huge))
    expect_error(page, "exceed")  # the upload cap (2 MB here): Gradio refuses the file
    screenshot(page, "bad-input")
    # a mask of the wrong size
    open_tab(page, "Inpaint")
    small_mask = tmp_path / "mask.png"
    Image.fromarray(np.full((10, 12), 255, dtype=np.uint8)).save(small_mask)
    upload(page, "inpaint-mask", small_mask)
    click(page, "Fill")
    expect_error(page, "mask is 12x10 (WxH) but the image is 512x512")
    # points that do not parse
    open_tab(page, "Deform", "Warp")
    set_code(page, "warp-points", '{"src": [[1, 2]], "dst": ')
    click(page, "Warp")
    expect_error(page, "points.json")
    # a run folder outside --runs
    open_tab(page, "Train")
    fill(page, "train-name", "../outside")
    click(page, "Start")
    expect_error(page, "outside the runs folder")
    # nothing was written, and the server still answers
    assert sorted(p.name for p in served.imsynth_state.runs_root.iterdir()) == runs_before
    open_tab(page, "Classical", "Resize")
    click(page, "Resize")
    assert result(page, "resize-result").shape == (256, 256)
