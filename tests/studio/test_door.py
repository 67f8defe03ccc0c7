"""The studio's front door (no Gradio, no browser): what it serves from the kept page before the studio is built,
what it makes wait, and how it finds a stale copy. The "studio" here is a small ASGI app standing in for
Gradio's."""

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from imsynth.studio.door import CHECK, KEPT, Door, gradio_folder
from tests.studio.conftest import free_port

KEY = {"imsynth": "test", "gradio": "test"}


def fake_studio(heading: str, example):
    """An ASGI app answering like Gradio's: the page (config inline: app id, root, theme hash, an example file),
    the theme and an action."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        host = dict(scope["headers"])[b"host"].decode()
        root = f"http://{host}"
        if scope["path"] == "/":
            config = {"app_id": 42, "theme_hash": "abc1", "root": root, "example": f"{root}/gradio_api/file={example}"}
            body = f"<html><head><title>{heading}</title></head><script>{json.dumps(config)}</script></html>"
        elif scope["path"] == "/theme.css":
            body = "/* studio answered /theme.css */ :root {--imsynth: 1}"
        else:
            body = f"studio answered {scope['path']}"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": body.encode()})

    return app


@contextlib.contextmanager
def door_serving(door):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(door, port=port, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def get(url, headers=None, timeout=10):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as answer:
        return answer.read().decode()


def in_background(url, headers=None):
    """GET ``url`` in another thread; returns (thread, answers): the thread ends when the door answers."""
    answers = []
    thread = threading.Thread(target=lambda: answers.append(get(url, headers, timeout=30)), daemon=True)
    thread.start()
    return thread, answers


def keep_a_copy(root, example, heading="imsynth studio"):
    """A first start: the studio built and opened, so the door keeps its page."""
    door = Door(root, KEY, app_id=7)
    with door_serving(door) as url:
        door.open(fake_studio(heading, example), url)
        assert door.stale is False
        assert heading in get(url + "/")
    return url


def test_before_the_studio_is_built_the_kept_page_is_served_with_this_start_s_address_and_app_id(tmp_path):
    example = tmp_path / "example.png"
    example.write_bytes(b"a picture")
    keep_a_copy(tmp_path, example)
    assert (tmp_path / KEPT / "page.html").is_file()
    door = Door(tmp_path, KEY, app_id=99)
    with door_serving(door) as url:
        page = get(url + "/")
        assert "imsynth studio" in page and CHECK in page  # from the copy, with its staleness check
        config = json.loads(page.split("<script>")[-1].split("</script>")[0])
        assert config["app_id"] == 99 and config["root"] == url  # this start's, not the first one's
        assert get(url + "/theme.css?v=abc1") == "/* studio answered /theme.css */ :root {--imsynth: 1}"
        assert get(url + f"/gradio_api/file={example}") == "a picture"
        script = next((gradio_folder() / "templates" / "frontend" / "assets").glob("*.js"))
        assert get(url + f"/assets/{script.name}") == script.read_text()  # Gradio's own files, from its package
        action, answers = in_background(url + "/gradio_api/run/predict")
        action.join(0.5)
        assert action.is_alive() and not answers  # an action waits for the studio
        door.open(fake_studio("imsynth studio", example), url)
        action.join(10)
        assert answers == ["studio answered /gradio_api/run/predict"]
        assert json.loads(get(url + CHECK)) == {"stale": False}


def test_nothing_outside_the_copy_is_served_before_the_studio_is_built(tmp_path):
    example = tmp_path / "example.png"
    example.write_bytes(b"a picture")
    keep_a_copy(tmp_path, example)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    door = Door(tmp_path, KEY, app_id=1)
    with door_serving(door) as url:
        waiting = [
            in_background(url + f"/gradio_api/file={secret}"),  # a file the page does not name
            in_background(url + "/theme.css?v=other"),  # another theme than the kept one
            in_background(url + "/assets/../../../../../../etc/hostname"),
        ]
        for thread, answers in waiting:
            thread.join(0.3)
            assert thread.is_alive() and not answers
        door.open(fake_studio("imsynth studio", example), url)
        for thread, answers in waiting:
            thread.join(10)
            assert answers and "studio answered" in answers[0], answers  # the studio's to answer


@pytest.mark.parametrize(
    "why",
    ["another key", "a guarded studio", "a request through a proxy", "a damaged copy"],
)
def test_the_copy_is_not_served_where_it_could_be_wrong(tmp_path, why):
    example = tmp_path / "example.png"
    example.write_bytes(b"a picture")
    keep_a_copy(tmp_path, example)
    key, kept, headers = KEY, True, {}
    if why == "another key":
        key = {**KEY, "imsynth": "newer"}
    elif why == "a guarded studio":
        kept = False
    elif why == "a request through a proxy":
        headers = {"X-Forwarded-Host": "example.org"}
    else:
        (tmp_path / KEPT / "about.json").write_text("{not json")
    door = Door(tmp_path, key, app_id=1, kept=kept)
    with door_serving(door) as url:
        thread, answers = in_background(url + "/", headers)
        thread.join(0.5)
        assert thread.is_alive() and not answers
        door.open(fake_studio("built now", example), url)
        thread.join(10)
        assert "built now" in answers[0]  # the page comes from the studio itself


def test_a_stale_copy_is_replaced_and_a_page_served_from_it_is_told_to_reload(tmp_path):
    example = tmp_path / "example.png"
    example.write_bytes(b"a picture")
    keep_a_copy(tmp_path, example, heading="the old page")
    door = Door(tmp_path, KEY, app_id=5)
    with door_serving(door) as url:
        assert "the old page" in get(url + "/")
        check, answers = in_background(url + CHECK)
        check.join(0.3)
        assert check.is_alive()  # asked before the studio is built: answered once it is
        door.open(fake_studio("the new page", example), url)
        check.join(10)
        assert json.loads(answers[0]) == {"stale": True}
        assert "the new page" in get(url + "/")
    kept = (tmp_path / KEPT / "page.html").read_text()
    assert "the new page" in kept and "the old page" not in kept
    assert Door(tmp_path, KEY, app_id=5)._page is not None  # the new copy is whole and serves the next start


def test_a_studio_that_cannot_be_built_answers_every_waiting_request_with_the_reason(tmp_path):
    door = Door(tmp_path, KEY, app_id=1)
    with door_serving(door) as url:
        answers = []

        def ask():
            try:
                get(url + "/", timeout=30)
            except urllib.error.HTTPError as refused:
                answers.append((refused.code, refused.read().decode()))

        waiting = threading.Thread(target=ask, daemon=True)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()
        door.fail(ValueError("no runs folder"))
        waiting.join(10)
        assert answers == [(503, "the studio could not start: no runs folder")]
        assert json.loads(get(url + CHECK)) == {"stale": True}
    assert not (tmp_path / KEPT).exists()
