"""HTTP requests to the lab's APIs from the virthost's netns, where the ctlplane is reachable.

Lab addresses must never be reached from the host's own namespace, so each request runs this module
as a small process inside the netns (``ip netns exec NS python -m ffulab.validate.netns_http``).
The request (password bodies included) goes in on stdin, never on a command line; the answer comes
back as JSON on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ffulab.errors import FfulabError
from ffulab.proc import in_netns


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Names in lower case (HTTP header names are case-insensitive)."""
    body: Any
    """Parsed JSON when the answer is JSON, else its text."""


def request(
    netns: str | None,
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Response:
    """``method url`` from inside ``netns`` (None: from here); any HTTP status is an answer."""
    ask = {"method": method, "url": url, "body": body, "headers": headers or {}, "timeout": timeout}
    result = subprocess.run(
        in_netns(netns, [sys.executable, "-m", __name__]),
        input=json.dumps(ask), capture_output=True, text=True, timeout=timeout + 30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise FfulabError(f"{method} {url}: no answer: {result.stderr.strip().splitlines()[-1:]}")
    answer = json.loads(result.stdout)
    return Response(answer["status"], answer["headers"], answer["body"])


def _answer(ask: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(ask["body"]).encode() if ask["body"] is not None else None
    headers = {"Accept": "application/json", **ask["headers"]}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(ask["url"], data=data, headers=headers, method=ask["method"])
    try:
        with urllib.request.urlopen(req, timeout=ask["timeout"]) as reply:
            status, reply_headers, raw = reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, raw = error.code, dict(error.headers), error.read()
    text = raw.decode(errors="replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return {"status": status, "headers": {k.lower(): v for k, v in reply_headers.items()}, "body": body}


def main() -> None:
    """Inside the netns: one request from stdin, its answer to stdout."""
    try:
        answer = _answer(json.load(sys.stdin))
    except (urllib.error.URLError, OSError) as error:
        sys.exit(f"{error}")
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
