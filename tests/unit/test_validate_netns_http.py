"""Requests through the netns helper (here without a netns): JSON in, JSON out, any status an answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ffulab.validate.netns_http import request


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(201)
        self.send_header("X-Subject-Token", "tok-" + body["user"])
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"seen": body, "type": self.headers["Content-Type"]}).encode())

    def do_GET(self) -> None:
        self.send_response(404 if self.path == "/missing" else 200)
        self.end_headers()
        self.wfile.write(b"plain text")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_a_json_body_goes_in_and_the_answer_comes_back(server):
    answer = request(None, "POST", f"{server}/v3/auth/tokens", body={"user": "admin"})
    assert answer.status == 201
    assert answer.body == {"seen": {"user": "admin"}, "type": "application/json"}
    assert answer.headers["x-subject-token"] == "tok-admin", "header names in lower case"


def test_an_error_status_is_an_answer_and_text_stays_text(server):
    assert request(None, "GET", f"{server}/missing").status == 404
    assert request(None, "GET", f"{server}/v3").body == "plain text"


def test_no_server_is_an_error_naming_the_url():
    with pytest.raises(Exception, match=r"GET http://127.0.0.1:9/v3: no answer"):
        request(None, "GET", "http://127.0.0.1:9/v3", timeout=5)
