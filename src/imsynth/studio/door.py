"""The studio's front door: an ASGI app that is listening a fraction of a second after ``imsynth studio`` starts,
serves the page kept from the last start while Gradio is imported and the page is built (3-5 s of a 2-core
machine, twice that beside a training), then hands every request to Gradio.

Importing Gradio alone takes longer than the 3 s a user should wait for the first page, and nothing the page
shows before its first action needs Gradio's Python side: the page is one HTML document with the page's config
inline, Gradio's own script and style files, a theme style sheet and the example pictures. The door serves those
from disk, and only when it is certain they are right:
- the kept page was built by the same versions of imsynth and Gradio with the same settings (``key``), and no
  password guards the studio (then Gradio's login page comes first);
- the request comes straight from a browser (no proxy headers), so the page's address is the request's own;
- every other request (an action, an upload, the heartbeat) waits until Gradio is ready.
When Gradio is ready the door builds the page once through it, keeps it for the next start, and tells a page it
served from the copy whether the copy was stale (code changed without a new version, say); such a page reloads
itself. Nothing here imports Gradio or torch: that is the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import mimetypes
import re
import threading
from collections.abc import Callable
from pathlib import Path

from ..image import atomic_path

KEPT = ".studio-page"  # in the runs folder: the studio's only folder, and one page per folder (it names it)
ROOT, APP_ID = "\x00imsynth-root\x00", "\x00imsynth-app-id\x00"
CHECK = "/imsynth/page"  # a page served from the copy asks here whether it is still the page
_APP_ID = re.compile(r'"app_id":\s*(\d+)')
_ROOT = re.compile(r'"root":\s*"([^"]*)"')
_THEME = re.compile(r'"theme_hash":\s*"([0-9a-f]+)"')  # the page asks for /theme.css?v=<this>
_VOLATILE = re.compile(rb" at 0x[0-9a-f]+")  # Gradio writes a function's repr, address included, into the config


def gradio_folder() -> Path | None:
    """Where Gradio's package lives, found without importing it (None when the extra is not installed)."""
    spec = importlib.util.find_spec("gradio")
    return Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None


class Door:
    """ASGI app; ``open(app)`` hands it Gradio's app once built (from any thread), ``fail(error)`` the reason
    there will be none."""

    def __init__(self, runs_root: Path, key: dict, app_id: int, *, kept: bool = True) -> None:
        self.folder = runs_root / KEPT
        self.key = json.dumps(key, sort_keys=True)
        self.app_id = app_id  # the page's app id, set on the Blocks too: Gradio's client compares them on reconnect
        self.app = None
        self.error: BaseException | None = None
        self.stale: bool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._exit = contextlib.AsyncExitStack()
        self._on_start: Callable[[], None] | None = None
        frontend = (gradio_folder() or Path("/nonexistent")) / "templates" / "frontend"
        self._static = {"/assets/": frontend / "assets", "/static/": frontend / "static"}
        self._page = self._theme = None
        self._files: set[str] = set()
        if kept:
            self._load()

    # --- the copy ---
    def _load(self) -> None:
        try:
            about = json.loads((self.folder / "about.json").read_text())
            if about.get("key") != self.key:
                return
            self._page = (self.folder / "page.html").read_bytes()
            self._theme = (about["theme"], (self.folder / "theme.css").read_bytes())
            self._files = set(about["files"])
        except (OSError, ValueError, KeyError, TypeError):  # no copy, or a damaged one: Gradio serves the page
            self._page = self._theme = None

    def _keep(self, page: bytes, root: str, theme: tuple[str, bytes] | None) -> None:
        normal = self._normal(page, root)
        self.stale = self._page is not None and _VOLATILE.sub(b"", normal) != _VOLATILE.sub(b"", self._page)
        if self._page is not None and not self.stale and theme == self._theme:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        files = sorted(set(re.findall(r"/gradio_api/file=([^\"\\]+)", page.decode("utf-8", "replace"))))
        with atomic_path(self.folder / "page.html") as tmp:
            tmp.write_bytes(normal)
        if theme is not None:
            with atomic_path(self.folder / "theme.css") as tmp:
                tmp.write_bytes(theme[1])
        with atomic_path(self.folder / "about.json") as tmp:  # last: the copy counts only once it is whole
            tmp.write_text(json.dumps({"key": self.key, "theme": theme[0] if theme else None, "files": files}))

    def _normal(self, page: bytes, root: str) -> bytes:
        """The page with its address and app id replaced by markers, put back per request in ``_served``."""
        text = page.decode("utf-8")
        text = _APP_ID.sub(f'"app_id":{APP_ID}', text, count=1)
        return text.replace(root, ROOT).encode("utf-8")

    def _served(self, scope) -> bytes:
        headers = dict(scope.get("headers") or ())
        root = f"{scope.get('scheme', 'http')}://{headers[b'host'].decode('latin-1')}"
        check = (
            f"<script>fetch({json.dumps(CHECK)}).then((answer) => answer.json())"
            ".then((state) => { if (state.stale) location.reload(); }).catch(() => {});</script>"
        )
        text = self._page.decode("utf-8").replace(ROOT, root).replace(APP_ID, str(self.app_id))
        return text.replace("<head>", "<head>" + check, 1).encode("utf-8")

    def _from_copy(self, scope) -> tuple[bytes, str] | Path | None:
        """What the copy (or Gradio's package) answers to this request before Gradio is ready, if anything."""
        if self._page is None or scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        headers = dict(scope.get("headers") or ())
        if b"host" not in headers or any(name.startswith(b"x-forwarded") for name in headers) or scope.get("root_path"):
            return None
        path = scope["path"]
        if path == "/":
            return self._served(scope), "text/html; charset=utf-8"
        if path == "/theme.css" and self._theme and scope.get("query_string", b"").decode() == f"v={self._theme[0]}":
            return self._theme[1], "text/css; charset=utf-8"
        for prefix, folder in self._static.items():
            if path.startswith(prefix):
                found = (folder / path[len(prefix) :]).resolve()
                return found if found.is_relative_to(folder.resolve()) and found.is_file() else None
        if path.startswith("/gradio_api/file=") and path[len("/gradio_api/file=") :] in self._files:
            found = Path(path[len("/gradio_api/file=") :])
            return found if found.is_file() else None
        return None

    # --- serving ---
    def on_start(self, start: Callable[[], None]) -> None:
        """Call ``start`` (which builds the page in another thread) once the server listens."""
        self._on_start = start

    def open(self, app, root: str) -> None:
        """Gradio's app is built: start it and let every request through (called from the building thread)."""
        if not self._loop.is_closed():  # not stopped (Ctrl-C) while the page was being built
            asyncio.run_coroutine_threadsafe(self._open(app, root), self._loop).result()

    def fail(self, error: BaseException) -> None:
        self.error = error
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ready.set)

    async def _open(self, app, root: str) -> None:
        await self._exit.enter_async_context(_lifespan(app))
        page = await _get(app, "/", root)
        theme = _THEME.search(page.decode("utf-8", "replace"))
        css = (theme.group(1), await _get(app, f"/theme.css?v={theme.group(1)}", root)) if theme else None
        await asyncio.to_thread(self._keep, page, root, css)
        self.app = app
        self._ready.set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] == "http" and scope["path"] == CHECK:
            await self._ready.wait()
            stale = bool(self.stale) or self.error is not None
            return await _respond(send, json.dumps({"stale": stale}).encode(), "application/json")
        if self.app is None:
            answer = self._from_copy(scope)
            if isinstance(answer, Path):
                kind = mimetypes.guess_type(answer.name)[0] or "application/octet-stream"
                return await _respond(send, await asyncio.to_thread(answer.read_bytes), kind, scope["method"])
            if answer is not None:
                return await _respond(send, answer[0], answer[1], scope["method"])
            await self._ready.wait()
        if self.error is not None:
            if scope["type"] == "http":
                message = f"the studio could not start: {self.error}".encode()
                return await _respond(send, message, "text/plain; charset=utf-8", status=503)
            return None
        return await self.app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop, self._ready = asyncio.get_running_loop(), asyncio.Event()
                if self._on_start is not None:
                    threading.Thread(target=self._on_start, name="imsynth-studio-build", daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._exit.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


@contextlib.asynccontextmanager
async def _lifespan(app):
    """Run ``app``'s ASGI start-up (Gradio starts its queue there) now, and its shutdown on leaving."""
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    running = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the studio did not start: {started.get('message', started['type'])}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await running


async def _respond(send, body: bytes, kind: str, method: str = "GET", status: int = 200) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


async def _get(app, target: str, root: str) -> bytes:
    """``target`` from an ASGI app, asked in this process as the browser at ``root`` would ask it. httpx is
    Gradio's own dependency and already imported when this runs (after the page is built), so it costs the
    door's start nothing."""
    httpx = importlib.import_module("httpx")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=root) as client:
        answer = await client.get(target)
    if answer.status_code != 200:
        raise RuntimeError(f"the studio's page {target} answered {answer.status_code}")
    return answer.content
