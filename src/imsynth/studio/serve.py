"""Starting the studio safely: the local interface unless told otherwise, a warning (and optional password)
when it is not, capped uploads, a bounded queue, no analytics and no request to any other host.

The server listens at once, through the front door (``door.py``), which serves the page kept from the last start
while Gradio and the page are built in another thread; Gradio is imported only there."""

from __future__ import annotations

import importlib
import os
import random
import socket
import sys
import threading
from importlib.metadata import version
from pathlib import Path

try:
    import uvicorn
except ImportError:  # an optional extra, with Gradio: serve() says so
    uvicorn = None

from .. import __version__
from ..errors import ImsynthError, InputError
from .door import Door, gradio_folder

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
ANSWER_WITHIN_S = 300.0  # a started studio (tests, scripts) is waited for this long; a loaded machine is slow


class Studio:
    """A studio serving in this process (``serve(block=False)``): its page, its state and ``close()``."""

    def __init__(self, door: Door, server: uvicorn.Server, thread: threading.Thread | None) -> None:
        self.door, self.server, self.thread = door, server, thread
        self.page = None
        self.built = threading.Event()

    @property
    def imsynth_state(self):
        return self.page.imsynth_state

    def close(self) -> None:
        self.server.handle_exit(None, None)
        if self.thread is not None:
            self.thread.join(timeout=30)


class _Server(uvicorn.Server if uvicorn is not None else object):
    """uvicorn's server, whose stop (Ctrl-C, SIGTERM, ``Studio.close``) closes the page first: that ends the pages'
    heartbeat streams, which would otherwise hold the shutdown for its whole grace time and then be cancelled."""

    studio: Studio | None = None

    def handle_exit(self, sig, frame) -> None:
        if self.studio is not None and self.studio.page is not None:
            self.studio.page.close(verbose=False)
        super().handle_exit(sig, frame)


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
    """Start the studio; with ``block=False`` return (studio, local URL) once it is ready and leave it running
    (tests). Without a ``password``, the one in IMSYNTH_STUDIO_PASSWORD guards it, if that is set (kept out of
    the command line, where other users of the machine could read it)."""
    password = password or os.environ.get("IMSYNTH_STUDIO_PASSWORD") or None
    if gradio_folder() is None or uvicorn is None:
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
    root = Path(runs).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{root}: cannot create the runs folder ({error.strerror or error})") from None
    listening = _listen(host, port)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{listening.getsockname()[1]}/"
    settings = dict(max_pixels=int(max_megapixels * 1e6), jobs=jobs, max_file_size=int(max_upload_mb * 1024 * 1024))
    key = dict(settings, imsynth=__version__, gradio=version("gradio"), host=host)
    # a guarded studio shows Gradio's login first: nothing is served from the copy then
    door = Door(root, key, random.getrandbits(64), kept=password is None)
    server = _Server(uvicorn.Config(door, log_level="warning", lifespan="on", timeout_graceful_shutdown=5, ws="none"))
    studio = server.studio = Studio(door, server, None)
    door.on_start(lambda: _build(studio, root, url.rstrip("/"), host, port, password, settings))
    if block:
        print(f"imsynth studio: {url}", flush=True)
        server.run(sockets=[listening])
        if door.error is not None:
            raise door.error
        return None
    studio.thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    studio.thread.start()
    if not studio.built.wait(ANSWER_WITHIN_S):
        studio.close()
        raise InputError(f"the studio started on {url} but was not ready within {ANSWER_WITHIN_S:.0f} s")
    if door.error is not None:
        studio.close()
        raise door.error
    return studio, url


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so that a taken port is the user's one-line error, not the server's exit."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except OSError as error:
        raise InputError(f"cannot serve on {host}:{port} ({error.strerror or error})") from None
    listening.set_inheritable(True)
    return listening


def _build(studio: Studio, root: Path, url: str, host: str, port: int, password, settings: dict) -> None:
    """Import Gradio, build the page and open the door to it (in the door's building thread)."""
    door = studio.door
    try:
        app = importlib.import_module("imsynth.studio.app")
        page = app.build_studio(root, max_pixels=settings["max_pixels"], jobs=settings["jobs"])
        page.queue(default_concurrency_limit=settings["jobs"], max_size=64)
        page.app_id = door.app_id
        gr = app.gr
        theme = gr.themes.Default(  # system fonts: the default theme would fetch its fonts from a font CDN
            font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
        )
        served = gr.mount_gradio_app(
            importlib.import_module("fastapi").FastAPI(openapi_url=None, docs_url=None, redoc_url=None),
            page,
            "/",
            server_name=host,
            server_port=port,
            footer_links=[],
            auth=("imsynth", password) if password else None,
            max_file_size=settings["max_file_size"],
            show_error=True,
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            theme=theme,
            css=app.CSS,
            head=app.HEAD,
        )
        # Gradio's own launch() sets this; close() reads it to end the pages' heartbeats (mounting leaves it unset)
        mount = importlib.import_module("starlette.routing").Mount
        page.app = next(route.app for route in served.routes if isinstance(route, mount))
        studio.page = page
        door.open(served, url)
    except ImsynthError as error:
        door.fail(error)
    except BaseException as error:  # a bug: said in full, and the server stops rather than wait for ever
        door.fail(error)
        raise
    finally:
        studio.built.set()
        if door.error is not None:
            studio.server.should_exit = True
