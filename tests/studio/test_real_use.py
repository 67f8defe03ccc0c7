"""The studio under real use, as its own process: two sessions train at once against a limit of one job, a third
uploads at the size cap and past it, a decompression bomb is refused without the server's memory growing past a
stated bound, and a studio killed mid-training and started again on the same runs folder shows every run and no
half-written file."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imsynth.runtime import runs as run_files
from tests.helpers import huge_png
from tests.studio.conftest import free_port, screenshot, studio_context
from tests.studio.test_browser import choose, click, expect_error, fill, open_tab, result, upload

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("studio")]
UPLOAD_MB = 2.0
MEMORY_BOUND_MB = 300  # what one refused upload may add to the server's resident memory


def start(runs: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imsynth.cli",
            "studio",
            "--runs",
            str(runs),
            "--port",
            str(port),
            "--jobs",
            "1",
            "--max-upload-mb",
            str(UPLOAD_MB),
            "--max-megapixels",
            "1",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError("the studio exited at start") from None
            time.sleep(1)
    process.kill()
    raise AssertionError("the studio did not answer within 180 s")


def wait_for_file(path: Path, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not path.is_file():
        if time.time() > deadline:
            raise AssertionError(f"{path} not written within {seconds} s")
        time.sleep(0.5)


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def session(browser, url):
    context = studio_context(browser)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Classical").wait_for(timeout=120_000)
    return context, page


def begin_training(page, name, preset=None):
    open_tab(page, "Train")
    if preset:
        choose(page, "train-preset", preset)
    fill(page, "train-name", name)
    fill(page, "train-minutes", "")
    fill(page, "train-steps", "100000")
    fill(
        page,
        "train-assignments",
        "width=8\nlatent_dim=4\ntrain.log_every=5\ntrain.sample_every=20\ntrain.checkpoint_every=20",
    )
    click(page, "Start")


def test_two_sessions_the_jobs_limit_uploads_a_bomb_and_a_killed_studio(browser, tmp_path):  # conftest's browser
    runs, port = tmp_path / "runs", free_port()
    runs.mkdir()
    url = f"http://127.0.0.1:{port}/"
    process = start(runs, port)
    try:
        first, a = session(browser, url)
        second, b = session(browser, url)
        third, c = session(browser, url)
        begin_training(a, "first", preset="cpu-30min")
        a.locator("#train-progress").get_by_text(re.compile("^training")).first.wait_for(timeout=90_000)
        # the preset's settings, then the lines typed after it (width=8 overrides the preset's 64)
        wait_for_file(runs / "first" / "config.json")
        saved = run_files.read_json(runs / "first" / "config.json")
        assert saved["train"]["lr"] == 1.4e-3 and saved["model_config"]["width"] == 8
        # the second session's start is refused by the limit of one job, with the limit named
        begin_training(b, "second")
        expect_error(b, "1 training(s) already running (the studio's limit, --jobs 1)")
        click(b, "Stop (writes a checkpoint)")
        expect_error(b, "no training of this run is running here")
        assert not (runs / "second").exists()
        # meanwhile a third session uploads a picture just under the upload cap and resizes it
        near_cap = tmp_path / "noise.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (560, 1000, 3), dtype=np.uint8)).save(near_cap)
        assert 0.8 * UPLOAD_MB < near_cap.stat().st_size / 2**20 < UPLOAD_MB
        open_tab(c, "Resize")
        upload(c, "resize-image", near_cap)
        fill(c, "resize-scale", "0.5")
        click(c, "Resize")
        assert result(c, "resize-result").shape[2] == 3
        # past the cap, and a bomb (a small file declaring 100,000 x 100,000 pixels): refused, memory bounded
        before = resident_mb(process.pid)
        over = tmp_path / "over.png"
        over.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).bytes(int(1.5 * UPLOAD_MB * 2**20)))
        c.locator("#resize-image input[type=file]").first.set_input_files(str(over))
        expect_error(c, "exceed")
        bomb = tmp_path / "bomb.png"
        bomb.write_bytes(huge_png())  # a small file declaring 100,000 x 100,000 pixels
        c.locator("#resize-image input[type=file]").first.set_input_files(str(bomb))
        c.wait_for_timeout(1500)
        click(c, "Resize")
        expect_error(c, "bomb.png")
        grown = resident_mb(process.pid) - before
        assert grown < MEMORY_BOUND_MB, grown
        screenshot(c, "real-use-refusals")
        # the first session's run trains on; then the studio is killed mid-training
        wait_for_file(runs / "first" / "state" / "latest.json")
        for context in (first, second, third):
            context.close()
    except BaseException:
        holder = run_files.locked_by(runs / "first")
        if holder and holder > 0:
            os.kill(holder, signal.SIGKILL)
        raise
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (runs / "first" / "state" / "latest.json").is_file()
    # started again on the same folder: every run listed, no temporary file left anywhere
    process = start(runs, port)
    try:
        again, page = session(browser, url)
        open_tab(page, "Runs")
        click(page, "Refresh runs")
        page.locator("#runs-run input").first.click()
        page.get_by_role("option", name="first", exact=True).first.wait_for(timeout=30_000)
        screenshot(page, "real-use-restarted")
        # the training the killed studio started ran on, detached: shown as training, and Stop stops it
        open_tab(page, "Train")
        fill(page, "train-name", "first")
        page.locator("#train-progress").get_by_text(re.compile("^training")).first.wait_for(timeout=60_000)
        click(page, "Stop (writes a checkpoint)")
        page.locator("#train-progress").get_by_text(re.compile("^not training")).first.wait_for(timeout=120_000)
        assert run_files.locked_by(runs / "first") is None
        # and it resumes from its checkpoint
        checkpoint = run_files.read_json(runs / "first" / "state" / "latest.json")["step"]
        click(page, "Resume")
        page.locator("#train-progress").get_by_text(re.compile("^training")).first.wait_for(timeout=90_000)
        click(page, "Stop (writes a checkpoint)")
        page.locator("#train-progress").get_by_text(re.compile("^not training")).first.wait_for(timeout=120_000)
        assert run_files.read_json(runs / "first" / "state" / "latest.json")["step"] >= checkpoint
        again.close()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        holder = run_files.locked_by(runs / "first")  # never leave a training behind, whatever failed
        if holder and holder > 0:
            os.kill(holder, signal.SIGKILL)
    leftovers = [p for p in runs.rglob("*") if ".tmp" in p.name or p.name.endswith(".partial")]
    assert not leftovers, leftovers
