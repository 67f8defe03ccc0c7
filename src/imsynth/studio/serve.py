"""Starting the studio safely: the local interface unless told otherwise, a warning (and optional password)
when it is not, capped uploads, a bounded queue, no analytics and no request to any other host."""

from __future__ import annotations

import os
import sys

from ..errors import InputError
from .app import CSS, build_studio
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
):
    """Start the studio; with ``block=False`` return (page, local URL) and leave it running (tests)."""
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
            quiet=not block,
        )
    except OSError as error:
        raise InputError(f"cannot serve on {host}:{port} ({error})") from None
    return page, url
