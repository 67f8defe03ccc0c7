"""The studio's targets, timed in a real browser (Debian's chromium, headless) against the library doing the same
work in the same run: first paint after start, a PatchMatch inpainting round trip on a 512x512 photograph, and a
64-image sample grid from a trained VAE.

    python benchmarks/studio.py --runs runs --run fm-vae [--repeats 5] [--load 2]
    python benchmarks/studio.py --paint-only --repeats 20 --load 1

``--run`` names a VAE run under ``--runs`` (e.g. ``imsynth train vae --data fashion-mnist --out runs/fm-vae``).
The studio is started as ``imsynth studio`` in a child process, as a user starts it, with the user's browser
already open: "start to paint" is the time from that start until the page's tabs are painted, read in the page's
own clock (its User Timing mark, put on the wall clock by the page's time origin). It is measured once with no
kept page (the cold start: Gradio builds the page, which the studio then keeps in the runs folder) and then
``--repeats`` times from the kept page (the worst is held to the 3 s target). "Page paint" is a fresh browser
opening the running, built studio, from navigation until its tabs show, in the page's clock (worst of
``--repeats``; Playwright's view of the same load, which adds its polling, is reported beside it). Round trips are timed from the click until the result image
is shown (upload of the inputs, the library call, the PNG written and fetched, the page updated); the peer is the
same library call timed in this process, so ``ratio`` is the studio's overhead factor. ``--load N`` runs N
CPU-bound trainings (``imsynth train vae``, one thread each) for the whole measurement, as a user training while
using the studio would.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from imsynth.studio.app import PAINT_MARK
from imsynth.studio.door import CHECK, KEPT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _round_trip(page, button: str, elem_id: str, seed_field: str, seed: int) -> float:
    """Click and wait for the new result. Each repeat sets another seed: Gradio names files by their content, so
    an identical result would keep the same address and could not be told from the previous one."""
    page.locator(f"#{seed_field} input").first.fill(str(seed))
    image = page.locator(f"#{elem_id} img").first
    before = image.get_attribute("src") if image.count() else None
    started = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).filter(visible=True).first.click()
    page.wait_for_function(
        "([id, old]) => { const img = document.querySelector('#' + id + ' img');"
        " return img && img.complete && img.naturalWidth > 0 && img.src !== old; }",
        arg=[elem_id, before],
        timeout=120_000,
    )
    return time.perf_counter() - started


def _page_paint(browser, url: str, repeats: int) -> dict:
    """The page as a user opens it on a running studio: a fresh browser context (no cache) each time. Timed by the
    page itself, from navigation until its tabs show (the studio's own User Timing mark); beside it, the same
    load timed from here (navigation until Playwright sees the tabs, which adds its polling) and Chromium's
    first-contentful-paint mark."""
    in_page, driver, contentful = [], [], []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.get_by_role("tab", name="Classical").wait_for(timeout=60_000)
        driver.append(time.perf_counter() - started)
        page.wait_for_function(f"() => performance.getEntriesByName('{PAINT_MARK}').length > 0", timeout=60_000)
        marks = page.evaluate(
            f"""() => [performance.getEntriesByName('{PAINT_MARK}')[0].startTime,
                (performance.getEntriesByName('first-contentful-paint')[0] || {{startTime: NaN}}).startTime]"""
        )
        in_page.append(marks[0] / 1000)
        contentful.append(marks[1] / 1000)
        context.close()
    return {
        "tabs_shown_median": round(statistics.median(in_page), 2),
        "tabs_shown_worst": round(max(in_page), 2),
        "driver_sees_tabs_median": round(statistics.median(driver), 2),
        "driver_sees_tabs_worst": round(max(driver), 2),
        "first_contentful_paint_median": round(statistics.median(contentful), 2),
    }


def _library_inpaint(repeats: int) -> float:
    import skimage.data

    from imsynth.classical.inpainting import INPAINTING

    image = skimage.data.astronaut().astype(np.float32) / 255
    yy, xx = np.mgrid[:512, :512]
    mask = ((xx - 330) / 46.0) ** 2 + ((yy - 120) / 30.0) ** 2 <= 1  # the studio's preloaded stroke
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        INPAINTING.get("patchmatch")(image, mask)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _library_sample(run: Path, repeats: int, tmp: Path) -> float:
    from imsynth.apps.sampling import write_samples

    times = []
    for index in range(repeats):
        started = time.perf_counter()
        write_samples(run, tmp / f"grid-{index}.png", count=64, device="cpu")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--run", help="a VAE run under --runs (the round trips; not needed with --paint-only)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--load", type=int, default=0, help="CPU-bound trainings running meanwhile")
    parser.add_argument("--paint-only", action="store_true", help="measure the page paint alone (no --run needed)")
    args = parser.parse_args()
    if not args.run and not args.paint_only:
        parser.error("give --run (a VAE run under --runs) or --paint-only")
    loads = _start_load(args.load, Path(args.runs))
    try:
        report = _measure(args)
    finally:
        for process in loads:
            process.terminate()
        for process in loads:
            process.wait(60)
        shutil.rmtree(Path(args.runs) / ".studio-load", ignore_errors=True)
    report["load"] = args.load
    print(json.dumps(report, indent=1))


def _start_load(count: int, runs: Path) -> list[subprocess.Popen]:
    """``count`` trainings on one thread each; returns when they are training (their first step is logged)."""
    loads = []
    for index in range(count):
        out = runs / ".studio-load" / f"load-{index}"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, "-m", "imsynth.cli", "train", "vae", "--data", "digits", "--out", str(out)]
        command += ["--steps", "1000000", "--quiet", "--set", "train.log_every=1"]
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        loads.append(subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for index in range(count):
        metrics = runs / ".studio-load" / f"load-{index}" / "metrics.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and not (metrics.is_file() and metrics.stat().st_size > 0):
            time.sleep(0.2)
    return loads


def _start(runs: str, port: int) -> tuple[subprocess.Popen, float]:
    """``imsynth studio`` as a user starts it; returns the process and its start (epoch seconds) once it listens."""
    started = time.time()
    server = subprocess.Popen(
        [sys.executable, "-m", "imsynth.cli", "studio", "--runs", runs, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, started
        except OSError:
            if time.time() - started > 120 or server.poll() is not None:
                raise SystemExit("the studio did not start") from None
            time.sleep(0.01)


def _start_to_paint(browser, runs: str) -> dict:
    """One start of the command, with the user's browser already open: from the command's start until the page's
    tabs are painted (the page's mark, read in the page's clock and put on the wall clock by its time origin);
    whether the page came from the kept copy; and when the studio was built (its first action could run)."""
    port = _free_port()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    server, started = _start(runs, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.wait_for_function(f"() => performance.getEntriesByName('{PAINT_MARK}').length > 0", timeout=120_000)
        origin, mark, from_copy = page.evaluate(
            f"""() => [performance.timeOrigin, performance.getEntriesByName('{PAINT_MARK}')[0].startTime,
                document.head.innerHTML.includes('{CHECK}')]"""
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{CHECK}", timeout=300):
            ready = time.time() - started
        return {"paint": (origin + mark) / 1000 - started, "from_copy": from_copy, "ready": ready}
    finally:
        context.close()
        server.terminate()
        server.wait(30)


def _measure(args) -> dict:
    from playwright.sync_api import sync_playwright

    report: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
        shutil.rmtree(Path(args.runs) / KEPT, ignore_errors=True)
        cold = _start_to_paint(browser, args.runs)  # nothing kept: Gradio builds the page, which is then kept
        starts = [_start_to_paint(browser, args.runs) for _ in range(args.repeats)]
        paints = [start["paint"] for start in starts]
        report["cold_start"] = {"start_to_paint": round(cold["paint"], 2), "built": round(cold["ready"], 2)}
        report["start_to_paint_s"] = {
            "median": round(statistics.median(paints), 2),
            "worst": round(max(paints), 2),
            "from_the_kept_page": sum(start["from_copy"] for start in starts),
            "built_median": round(statistics.median(start["ready"] for start in starts), 2),
        }
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        server, _ = _start(args.runs, port)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            with urllib.request.urlopen(url.rstrip("/") + CHECK, timeout=300):
                pass  # built: the page paints below are of a running studio
            report["page_paint_s"] = _page_paint(browser, url, args.repeats)
            if args.paint_only:
                report["targets"] = {
                    "page painted <= 3 s (worst)": report["page_paint_s"]["tabs_shown_worst"] <= 3,
                    "start to paint <= 3 s (worst of the later starts)": report["start_to_paint_s"]["worst"] <= 3,
                }
                return report
            page.get_by_role("tab", name="Inpaint", exact=True).click()
            inpaint = [
                _round_trip(page, "Fill", "inpaint-result", "inpaint-method-seed", i) for i in range(args.repeats)
            ]
            page.get_by_role("tab", name="Generate", exact=True).click()
            page.locator("#generate-run input").first.click()
            page.get_by_role("option", name=args.run, exact=True).first.click()
            sample = [_round_trip(page, "Sample", "sample-result", "sample-seed", i) for i in range(args.repeats)]
        finally:
            server.terminate()
            server.wait(30)
    tmp = Path(args.runs) / ".studio-benchmark"
    tmp.mkdir(exist_ok=True)
    library_inpaint = _library_inpaint(args.repeats)
    library_sample = _library_sample(Path(args.runs) / args.run, args.repeats, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    report.update(
        inpaint_patchmatch_512_s={"studio": round(statistics.median(inpaint), 3), "library": round(library_inpaint, 3)},
        sample_grid_64_s={"studio": round(statistics.median(sample), 3), "library": round(library_sample, 3)},
        first_inpaint_s=round(inpaint[0], 3),
        first_sample_s=round(sample[0], 3),
        repeats=args.repeats,
        run=args.run,
    )
    for key in ("inpaint_patchmatch_512_s", "sample_grid_64_s"):
        report[key]["ratio"] = round(report[key]["studio"] / report[key]["library"], 2)
    report["targets"] = {
        "page painted <= 3 s (worst of the repeats)": report["page_paint_s"]["tabs_shown_worst"] <= 3,
        "start to paint <= 3 s (worst of the later starts)": report["start_to_paint_s"]["worst"] <= 3,
        "inpaint round trip <= 2 s": report["inpaint_patchmatch_512_s"]["studio"] <= 2,
        "64-image grid <= 2 s": report["sample_grid_64_s"]["studio"] <= 2,
    }
    return report


if __name__ == "__main__":
    main()
