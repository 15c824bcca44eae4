"""The downtime poller: GET each public API of the lab every ``interval`` s, a JSON line per API.

:mod:`ffulab.ffu.downtime` runs this file's source with the virthost's ``python3`` where the lab's
addresses are reachable (inside the sandbox netns, or on a remote virthost over ssh), so it uses
the standard library only and prints its samples to stdout. It is bounded: ``--max-seconds``, a
per-request ``--timeout`` (an answer slower than that counts as down), and it exits when its
parent or its stdout goes away.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def probe(url: str, timeout: float) -> tuple[bool, int]:
    """(answered with 2xx/3xx, HTTP status or 0 when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status < 400, response.status
    except urllib.error.HTTPError as exc:  # urllib raises for what it does not follow: 300 is an answer
        return exc.code < 400, exc.code
    except (OSError, ValueError):
        return False, 0


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def poll(urls: dict[str, str], interval: float, timeout: float, max_seconds: float) -> None:
    """Every ``interval`` s, all APIs at once (one thread each): a slow one does not delay the others."""
    parent = os.getppid()
    stop = time.monotonic() + max_seconds
    signal.signal(signal.SIGTERM, _exit)
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        while time.monotonic() < stop and os.getppid() == parent:
            started = time.monotonic()
            at = round(time.time(), 3)
            answers = pool.map(lambda url: probe(url, timeout), urls.values())
            for api, (ok, status) in zip(urls, answers, strict=True):
                print(json.dumps({"t": at, "api": api, "ok": ok, "status": status}), flush=True)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", action="append", required=True, metavar="API=URL", help="repeatable")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=3.0, help="a slower answer counts as down")
    parser.add_argument("--max-seconds", type=float, default=6 * 3600)
    args = parser.parse_args()
    poll(dict(item.split("=", 1) for item in args.url), args.interval, args.timeout, args.max_seconds)


if __name__ == "__main__":
    main()
