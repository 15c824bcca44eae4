"""Downtime windows from the poller's samples, across resumed runs; the poller itself on loopback."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ffulab.ffu import downtime, poller


def _samples(*pairs, api="identity"):
    return [{"t": float(t), "api": api, "ok": ok, "status": 200 if ok else 0} for t, ok in pairs]


def _windows(record_or_list):
    windows = record_or_list.windows if hasattr(record_or_list, "windows") else record_or_list
    return [window.model_dump(exclude_defaults=True) for window in windows]


def test_a_window_opens_at_the_first_failure_and_closes_at_the_next_answer():
    samples = _samples((0, True), (1, True), (2, False), (3, False), (4, True), (5, False), (6, True))
    assert _windows(downtime.windows(samples)) == [{"start": 2.0, "end": 4.0}, {"start": 5.0, "end": 6.0}]


def test_samples_after_the_end_of_the_ffu_do_not_count_and_an_open_window_ends_there():
    samples = _samples((0, True), (1, False), (2, False), (3, False), (9, True))
    assert _windows(downtime.windows(samples, until=2.5)) == [{"start": 1.0, "end": 2.0, "open": True}]


def test_an_outage_across_a_resumed_run_is_one_window_counted_while_nobody_watched():
    first = downtime.merge(None, "http://x/v3", _samples((0, True), (1, False), (2, False)), None)
    assert _windows(first) == [{"start": 1.0, "end": 2.0, "open": True}]
    second = downtime.merge(first, "http://x/v3", _samples((50, False), (60, True)), until=60)
    assert _windows(second) == [{"start": 1.0, "end": 60.0}]
    assert second.seconds == 59.0
    assert (second.samples, second.failed_samples) == (5, 3)


def test_a_run_that_starts_with_the_api_up_keeps_the_windows_apart():
    first = downtime.merge(None, "u", _samples((0, False), (1, True)), None)
    second = downtime.merge(first, "u", _samples((10, True), (11, False), (12, True)), None)
    assert _windows(second) == [{"start": 0.0, "end": 1.0}, {"start": 11.0, "end": 12.0}]
    assert second.seconds == 2.0


def test_each_api_gets_its_own_windows():
    samples = _samples((0, True), (1, False), (2, True)) + _samples((0, False), (1, True), api="image")
    urls = {"identity": "http://x:5000/v3", "image": "http://x:9292/"}
    merged = downtime.merge_all({}, urls, samples, None)
    assert {api: _windows(record) for api, record in merged.items()} == {
        "identity": [{"start": 1.0, "end": 2.0}],
        "image": [{"start": 0.0, "end": 1.0}],
    }
    assert merged["image"].url == "http://x:9292/"


class _Toggle(http.server.BaseHTTPRequestHandler):
    up = True

    def do_GET(self):
        self.send_response(200 if _Toggle.up else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Toggle.up = True  # the API starts up, whatever a test before left
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Toggle)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v3"
    httpd.shutdown()
    httpd.server_close()


def test_the_poller_source_runs_alone_and_sees_the_api_go_down(server: str, tmp_path: Path):
    """The poller runs from its source with a bare python3 (as on the virthost) and stops at its bound."""
    source = Path(poller.__file__).read_text()
    argv = [sys.executable, "-I", "-c", source, "--url", f"identity={server}", "--url", f"image={server}"]
    argv += ["--interval", "0.1", "--timeout", "0.5"]
    argv += ["--max-seconds", "3"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    samples = []
    # the API goes down once the poller has seen it up, and comes back once both probes saw it down
    for line in process.stdout:
        samples.append(json.loads(line))
        if _Toggle.up and {s["status"] for s in samples} == {200}:
            _Toggle.up = False
        elif {s["api"] for s in samples if s["status"] == 503} == {"identity", "image"}:
            _Toggle.up = True
    assert process.wait(timeout=10) == 0
    assert {s["status"] for s in samples} == {200, 503}
    assert {s["api"] for s in samples} == {"identity", "image"}
    assert len(downtime.windows([s for s in samples if s["api"] == "image"])) == 1


class _Choices(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(300)  # the version document of glance and cinder at /
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_api_answering_300_multiple_choices_is_up():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Choices)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        assert poller.probe(f"http://127.0.0.1:{httpd.server_address[1]}/", 5) == (True, 300)
    finally:
        httpd.shutdown()
        httpd.server_close()
