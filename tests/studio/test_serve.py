"""Starting the studio: safe defaults, clear errors, password and upload caps (no browser needed)."""

import importlib
import logging
import socket
import threading
import urllib.error
import urllib.request

import pytest

from imsynth.errors import InputError
from imsynth.studio import app, serve
from tests.helpers import assert_one_line_error, run_cli
from tests.studio.conftest import free_port

pytestmark = pytest.mark.xdist_group("studio")
serving = importlib.import_module("imsynth.studio.serve")  # the module (the package exports its function serve)


def test_bad_limits_and_a_missing_extra_are_one_line_errors(capsys, monkeypatch, tmp_path):
    code, _, err = run_cli(capsys, "studio", "--runs", str(tmp_path), "--jobs", "0")
    assert code == 2 and "--jobs" in err
    code, _, err = run_cli(capsys, "studio", "--runs", str(tmp_path), "--max-megapixels", "0")
    assert_one_line_error(code, err, "--max-upload-mb and --max-megapixels must be > 0")
    monkeypatch.setattr(app, "gr", None)
    with pytest.raises(InputError, match=r"the studio needs Gradio: pip install 'imsynth\[studio\]'"):
        app.build_studio(tmp_path)
    monkeypatch.setattr(serving, "gradio_folder", lambda: None)  # found without importing it, before anything starts
    code, _, err = run_cli(capsys, "studio", "--runs", str(tmp_path))
    assert_one_line_error(code, err, "the studio needs Gradio: pip install 'imsynth[studio]'")
    monkeypatch.undo()
    monkeypatch.setattr(serving, "uvicorn", None)  # the extra's server, missing alone
    code, _, err = run_cli(capsys, "studio", "--runs", str(tmp_path))
    assert_one_line_error(code, err, "the studio needs Gradio: pip install 'imsynth[studio]'")


def test_another_host_warns_and_a_password_guards_every_page(capsys, tmp_path):
    page, url = serve(str(tmp_path), host="0.0.0.0", port=free_port(), password="s3cret", block=False)
    try:
        assert "warning: serving on 0.0.0.0" in capsys.readouterr().err
        local = url.replace("0.0.0.0", "127.0.0.1")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(local + "config", timeout=10)
        assert refused.value.code == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with pytest.raises(urllib.error.HTTPError):
            opener.open(local + "login", data=b"username=imsynth&password=wrong", timeout=10)
        opener.open(local + "login", data=b"username=imsynth&password=s3cret", timeout=10)
        with opener.open(local + "config", timeout=10) as answer:  # signed in: the page's config is served
            assert answer.status == 200 and b"imsynth studio" in answer.read()
    finally:
        page.close()


def test_the_password_may_come_from_the_environment_instead_of_the_command_line(monkeypatch, tmp_path):
    monkeypatch.setenv("IMSYNTH_STUDIO_PASSWORD", "from-env")
    page, url = serve(str(tmp_path), port=free_port(), block=False)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "config", timeout=10)
        assert refused.value.code == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        opener.open(url + "login", data=b"username=imsynth&password=from-env", timeout=10)
        with opener.open(url + "config", timeout=10) as answer:
            assert answer.status == 200
    finally:
        page.close()


def test_a_taken_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot serve on 127.0.0.1:{port}"):
            serve(str(tmp_path), port=port, block=False)


def test_a_studio_whose_page_cannot_be_built_stops_with_the_reason_in_one_line(capsys, monkeypatch, tmp_path):
    def unbuildable(*args, **kwargs):
        raise InputError(f"{tmp_path}: the runs folder is not readable")

    monkeypatch.setattr(app, "build_studio", unbuildable)
    with pytest.raises(InputError, match="the runs folder is not readable"):
        serve(str(tmp_path), port=free_port(), block=False)
    # the command serves until the page fails, then stops: exit 2 and the one line, no traceback
    code, _, err = run_cli(capsys, "studio", "--runs", str(tmp_path), "--port", str(free_port()))
    assert_one_line_error(code, err, "the runs folder is not readable")


def test_stopping_ends_the_pages_heartbeats_instead_of_cancelling_them(caplog, tmp_path):
    studio, url = serve(str(tmp_path), port=free_port(), block=False)
    # a page's heartbeat: an open event stream, for as long as the page lives
    stream = urllib.request.urlopen(url + "gradio_api/heartbeat/a-page", timeout=30)
    assert stream.readline().startswith(b"data: ALIVE")
    server_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate to caplog's
    server_log.addHandler(caplog.handler)
    try:
        studio.close()
    finally:
        server_log.removeHandler(caplog.handler)
    assert not studio.thread.is_alive()
    assert "graceful shutdown exceeded" not in caplog.text and "Exception in ASGI" not in caplog.text, caplog.text
    stream.close()


def test_a_studio_not_built_in_time_is_refused_and_stopped(monkeypatch, tmp_path):
    release = threading.Event()

    def stuck(*args, **kwargs):  # a build that hangs (until the test ends)
        release.wait(30)
        raise InputError("released")

    monkeypatch.setattr(app, "build_studio", stuck)
    monkeypatch.setattr(serving, "ANSWER_WITHIN_S", 1.0)
    port = free_port()
    try:
        with pytest.raises(InputError, match=f"started on http://127.0.0.1:{port}/ but was not ready within 1 s"):
            serve(str(tmp_path), port=port, block=False)
        with socket.socket() as probe:  # stopped: the port is free again
            probe.bind(("127.0.0.1", port))
    finally:
        release.set()
