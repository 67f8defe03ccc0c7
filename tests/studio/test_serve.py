"""Starting the studio: safe defaults, clear errors, password and upload caps (no browser needed)."""

import http.server
import importlib
import socket
import threading
import time
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


class SlowPage(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        time.sleep(4)  # longer than the one 3-second try of Gradio's own check, which refused to start the studio
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_started_studio_is_waited_for_with_patience_and_a_silent_one_is_refused(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert serving._answers(f"http://127.0.0.1:{server.server_address[1]}/", None)
    finally:
        server.shutdown()
    monkeypatch.setattr(serving, "ANSWER_WITHIN_S", 1.5)
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        assert not serving._answers(f"http://127.0.0.1:{silent.getsockname()[1]}/", None)
        assert time.monotonic() - started < 10  # gives up at its deadline, not at a request's 30 s timeout
