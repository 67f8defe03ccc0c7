"""Starting the studio safely: the local interface unless told otherwise, a warning (and optional password)
when it is not, capped uploads, a bounded queue, no analytics and no request to any other host."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request

from ..errors import InputError
from .app import CSS, HEAD, build_studio
from .controls import gr

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _theme():
    # system fonts: the default theme would fetch its fonts from a font CDN
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def serve(
    runs: str = "runs",
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    password: str | None = None,
    max_upload_mb: float = 50.0,
    max_megapixels: float = 16.0,
    jobs: int = 1,
    block: bool = True,
) -> tuple | None:
    """Start the studio; with ``block=False`` return (page, local URL) and leave it running (tests). Without a
    ``password``, the one in IMSYNTH_STUDIO_PASSWORD guards it, if that is set (kept out of the command line, where
    other users of the machine could read it)."""
    password = password or os.environ.get("IMSYNTH_STUDIO_PASSWORD") or None
    if gr is None:
        raise InputError("the studio needs Gradio: pip install 'imsynth[studio]'")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    if jobs < 1 or max_upload_mb <= 0 or max_megapixels <= 0:
        raise InputError("--jobs, --max-upload-mb and --max-megapixels must be > 0")
    if host not in LOCAL_HOSTS:
        print(
            f"imsynth: warning: serving on {host}: anyone who can reach this machine can use the studio"
            + ("" if password else " (no password: set one with --password or IMSYNTH_STUDIO_PASSWORD)"),
            file=sys.stderr,
        )
    page = build_studio(runs, max_pixels=int(max_megapixels * 1e6), jobs=jobs)
    page.queue(default_concurrency_limit=jobs, max_size=64)
    try:
        _, url, _ = page.launch(
            server_name=host,
            server_port=port,
            auth=("imsynth", password) if password else None,
            max_file_size=int(max_upload_mb * 1024 * 1024),
            prevent_thread_lock=not block,
            show_error=True,
            footer_links=[],
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            theme=_theme(),
            css=CSS,
            head=HEAD,
            quiet=not block,
            # Gradio's own check that the page answers gives up after one 3-second try, and under load the first
            # request for the page (its 800 KB config) took longer: the studio then refused to start at all.
            # It is skipped; a studio started without blocking (tests, scripts) is waited for below instead, and
            # a blocking one (the CLI) simply serves: the user's browser waits for the first page
            _frontend=False,
        )
    except OSError as error:
        raise InputError(f"cannot serve on {host}:{port} ({error})") from None
    if block:  # served until Ctrl-C, and closed by Gradio then: nothing left to wait for
        return None
    if not _answers(url, password):
        page.close()
        raise InputError(f"the studio started on {url} but did not answer within {ANSWER_WITHIN_S:.0f} s")
    return page, url


ANSWER_WITHIN_S = 120.0


def _answers(url: str, password: str | None) -> bool:
    """Whether the page at ``url`` answers (401 where a password guards it) within ``ANSWER_WITHIN_S``, asked
    again after each timeout; a loaded machine can take several seconds for the first answer."""
    deadline = time.monotonic() + ANSWER_WITHIN_S
    while time.monotonic() < deadline:
        request = urllib.request.Request(url.replace("0.0.0.0", "127.0.0.1"), method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=max(0.1, min(30.0, deadline - time.monotonic()))):
                return True
        except urllib.error.HTTPError as refused:
            if password and refused.code == 401:
                return True
        except OSError:  # not listening yet, or a timeout: ask again
            pass
        time.sleep(0.5)
    return False
