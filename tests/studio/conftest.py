"""A studio served by the test on a free port, and a headless Chromium (Debian's; Playwright cannot download its
own browser here) that records every request the page makes."""

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from imsynth.studio.app import PAINT_MARK
from tests.helpers import tiny_clips, tiny_pairs, tiny_run, tiny_text_dataset

pytest.importorskip("gradio", reason="the studio extra is not installed: pip install '.[studio]'")
CHROMIUM = os.environ.get("IMSYNTH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("IMSYNTH_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")) / "studio"
MAX_MEGAPIXELS = 1.0  # small, so the pixel cap can be tested with a small file
MAX_UPLOAD_MB = 2.0
# Every toast the page shows, kept after Gradio removes it (10 s): under load a test can look later than that.
# Polled, not observed: a MutationObserver watching for added nodes was tried and recorded only the first toast of
# a test. An element is recorded again if its text changes.
TOAST_RECORDER = """
window.__toasts = [];
const seen = new WeakMap();
setInterval(() => {
  for (const body of document.querySelectorAll('.toast-body')) {
    const text = body.innerText;
    if (text && seen.get(body) !== text) { seen.set(body, text); window.__toasts.push(text); }
  }
}, 50);
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def studio_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    tiny_run(root, "vae", steps=30, latent_dim=4)
    tiny_run(root, "pix2pix", steps=5, data=tiny_pairs(48))  # two domains of 8x8
    tiny_run(root, "text-vae", steps=5, data=tiny_text_dataset(48))
    tiny_run(root, "dsvae", steps=5, data=tiny_clips(48, frames=6))  # clips of 6 8x8 frames
    return root


@pytest.fixture(scope="module")
def studio(studio_runs):
    from imsynth.studio import serve

    page, url = serve(
        str(studio_runs),
        port=free_port(),
        block=False,
        max_megapixels=MAX_MEGAPIXELS,
        max_upload_mb=MAX_UPLOAD_MB,
    )
    yield url, page
    for job in page.imsynth_state.jobs.values():
        job.stop()
    page.close()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium here: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


def studio_context(browser):
    """A browser context as a new user's: nothing cached, generous timeouts (the other test worker may be loading
    both cores), and the page's toasts recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(90_000)
    context.add_init_script(TOAST_RECORDER)
    return context


@pytest.fixture
def page(browser, studio, request):
    """A fresh page on the studio; afterwards, every request it made must have gone to the studio itself."""
    url, _ = studio
    context = studio_context(browser)
    opened = context.new_page()
    requests = []
    opened.on("request", lambda request: requests.append(request.url))
    started = time.perf_counter()
    opened.goto(url)
    opened.get_by_role("tab", name="Classical").wait_for(timeout=120_000)
    seen = time.perf_counter() - started
    # the page's own mark of its tabs showing (what benchmarks/studio.py reports): set once, before the driver saw them
    opened.wait_for_function(f"() => performance.getEntriesByName('{PAINT_MARK}').length === 1")
    in_page = opened.evaluate(f"() => performance.getEntriesByName('{PAINT_MARK}')[0].startTime") / 1000
    assert in_page > 0, in_page
    record_paint(request.node.name, in_page, seen)
    yield opened
    context.close()
    elsewhere = [u for u in requests if not u.startswith((url.rstrip("/"), "blob:" + url.rstrip("/"), "data:"))]
    assert requests and not elsewhere, elsewhere


def record_paint(test: str, in_page: float, seen: float, **more) -> None:
    """The page's paint time in each browser test (navigation until the tabs show: in the page's own clock, and as
    the driver saw it), kept beside the screenshots for benchmarks/studio.py's figures to be checked against; never
    asserted against a budget: a time depends on the machine and its load."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "paint.jsonl", "a", encoding="utf-8") as log:
        record = {"test": test, "page_paint_s": round(in_page, 3), "driver_saw_s": round(seen, 3), "at": time.time()}
        record.update(more)
        log.write(json.dumps(record) + "\n")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
