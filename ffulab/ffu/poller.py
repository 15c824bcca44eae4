"""The poller: every public API (HTTP GET) and the workload's data plane (ICMP echo, TCP) each second.

:mod:`ffulab.ffu.downtime` runs this file's source with the virthost's ``python3`` where the lab's
addresses are reachable (inside the sandbox netns, or on a remote virthost over ssh), so it uses
the standard library only and prints its samples to stdout, one JSON line per probe and tick:
``{"t", "api", "ok", "status"}`` for an API, ``{"t", "probe", "kind", "ok", "ms"[, "uptime"]}`` for
the data plane. Each probe runs in its own thread at its own cadence, so a hung API does not delay
a ping. An echo is sent every second whatever came back, and its sample is ok when its reply comes
within ``--dataplane-timeout``, after the next echo went or not (ping(8)'s count); samples can
therefore come out of time order. A TCP probe sends ``GET /`` and keeps the first number of the
answer: the workload's responder answers with its ``/proc/uptime``, which tells a rebooted instance
from a running one.
It is bounded: ``--max-seconds``, a per-probe ``--timeout`` (a slower answer counts as lost), and it
exits when its parent or its stdout goes away.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import select
import signal
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

Sample = dict[str, object]
_NUMBER = re.compile(rb"\d+(?:\.\d+)?")
_PRINT = threading.Lock()


def probe(url: str, timeout: float) -> tuple[bool, int]:
    """(answered with 2xx/3xx, HTTP status or 0 when nothing answered)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status < 400, response.status
    except urllib.error.HTTPError as exc:  # urllib raises for what it does not follow: 300 is an answer
        return exc.code < 400, exc.code
    except (OSError, ValueError):
        return False, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request (type 8) carrying ``ident``/``seq`` and 16 bytes of payload."""
    payload = b"ffulab-dataplane"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload


def is_echo_reply(packet: bytes, address: str, source: str, ident: int, seq: int) -> bool:
    """Whether a raw IPv4 packet is the reply (type 0) from ``address`` to our request ``ident``/``seq``."""
    if len(packet) < 28 or source != address:
        return False
    offset = (packet[0] & 0x0F) * 4
    kind, _code, _sum, got_ident, got_seq = struct.unpack("!BBHHH", packet[offset : offset + 8])
    return kind == 0 and got_ident == ident and got_seq == seq


def pinger(
    name: str, address: str, ident: int, interval: float, timeout: float, stop: float, done: threading.Event
) -> None:
    """An echo request every ``interval`` s; each one's sample is ok when its reply comes within
    ``timeout`` s, late or not, as ping(8) counts it: under TCG a loaded node answers in 1-2 s at times
    (seen on the compute lab during FFU steps, the gateway's router port as slow as the instance), and a
    slow answer is not a lost packet. A sample goes out when its echo is answered or given up on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)

    def sample(at: float, ok: bool, ms: float) -> None:
        _emit({"t": at, "probe": name, "kind": "icmp", "ok": ok, "ms": ms})

    pending: dict[int, tuple[float, float]] = {}  # seq -> (monotonic, wall clock) when sent
    seq, next_send = 0, time.monotonic()
    while not done.is_set():
        now = time.monotonic()
        if now >= next_send and now < stop:
            seq = (seq + 1) & 0xFFFF
            pending[seq] = (now, round(time.time(), 3))
            with contextlib.suppress(OSError):  # no route: given up on at its timeout like any other
                sock.sendto(echo_request(ident, seq), (address, 0))
            next_send += interval
            if next_send <= now:  # this thread was held up past a tick: the cadence restarts from now
                next_send = now + interval
        for lost in [s for s, (sent, _) in pending.items() if now - sent >= timeout]:
            sample(pending.pop(lost)[1], False, timeout * 1000)
        if now >= stop and not pending:
            return
        wake = min([sent + timeout for sent, _ in pending.values()] + ([next_send] if now < stop else []))
        ready, _, _ = select.select([sock], [], [], min(interval, max(0.0, wake - time.monotonic())))
        if not ready:
            continue
        packet, (source, _port) = sock.recvfrom(2048)
        answered = next((s for s in pending if is_echo_reply(packet, address, source, ident, s)), None)
        if answered is not None:
            sent, at = pending.pop(answered)
            sample(at, True, round((time.monotonic() - sent) * 1000, 1))


def tcp(address: str, port: int, timeout: float) -> tuple[bool, float, float | None]:
    """Connect, send ``GET /``, read the answer: (connected, milliseconds, first number in the answer)."""
    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(max(0.1, timeout - (time.monotonic() - started)))
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            try:
                while len(answer) < 4096 and (chunk := conn.recv(4096)):
                    answer += chunk
            except OSError:
                pass
    except OSError:
        return False, round((time.monotonic() - started) * 1000, 1), None
    body = answer.split(b"\r\n\r\n", 1)[-1]
    number = _NUMBER.search(body)
    return True, round((time.monotonic() - started) * 1000, 1), float(number.group()) if number else None


def _emit(sample: Sample) -> None:
    with _PRINT:
        print(json.dumps(sample), flush=True)


def http_prober(api: str, url: str, timeout: float) -> Callable[[], Sample]:
    def run() -> Sample:
        ok, status = probe(url, timeout)
        return {"api": api, "ok": ok, "status": status}

    return run


def tcp_prober(name: str, address: str, port: int, timeout: float) -> Callable[[], Sample]:
    def run() -> Sample:
        ok, ms, number = tcp(address, port, timeout)
        sample: Sample = {"probe": name, "kind": "tcp", "ok": ok, "ms": ms}
        if number is not None:
            sample["uptime"] = number
        return sample

    return run


def _loop(prober: Callable[[], Sample], interval: float, stop: float, done: threading.Event) -> None:
    while not done.is_set() and time.monotonic() < stop:
        started = time.monotonic()
        at = round(time.time(), 3)
        _emit({"t": at, **prober()})
        done.wait(max(0.0, interval - (time.monotonic() - started)))


def poll(
    probers: list[Callable[[], Sample]],
    interval: float,
    max_seconds: float,
    pingers: list[Callable[[float, threading.Event], None]] | None = None,
) -> None:
    """Run every prober every ``interval`` s, and every pinger (its own cadence, given the stop time and
    the done event), each in its own thread until the bound, the parent or a signal."""
    parent = os.getppid()
    stop = time.monotonic() + max_seconds
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: done.set())
    threads = [
        threading.Thread(target=_loop, args=(prober, interval, stop, done), daemon=True) for prober in probers
    ] + [threading.Thread(target=run, args=(stop, done), daemon=True) for run in pingers or []]
    for thread in threads:
        thread.start()
    while not done.is_set() and time.monotonic() < stop and os.getppid() == parent:
        done.wait(1.0)
    done.set()
    for thread in threads:
        thread.join(timeout=10)


def _pairs(items: list[str] | None) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in items or []]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", action="append", metavar="API=URL", help="repeatable")
    parser.add_argument("--icmp", action="append", metavar="NAME=ADDRESS", help="repeatable")
    parser.add_argument("--tcp", action="append", metavar="NAME=ADDRESS:PORT", help="repeatable")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=3.0, help="a slower API answer counts as down")
    parser.add_argument(
        "--dataplane-timeout",
        type=float,
        default=3.0,
        help="an echo or connection answered later counts as lost",
    )
    parser.add_argument("--max-seconds", type=float, default=6 * 3600)
    args = parser.parse_args()
    probers = [http_prober(api, url, args.timeout) for api, url in _pairs(args.url)]
    ident = os.getpid() & 0xFFFF
    pingers = [
        functools.partial(
            pinger, name, address, (ident + index) & 0xFFFF, args.interval, args.dataplane_timeout
        )
        for index, (name, address) in enumerate(_pairs(args.icmp))
    ]
    for name, target in _pairs(args.tcp):
        address, port = target.rsplit(":", 1)
        probers.append(tcp_prober(name, address, int(port), args.dataplane_timeout))
    if not probers and not pingers:
        parser.error("nothing to poll: give --url, --icmp or --tcp")
    poll(probers, args.interval, args.max_seconds, pingers)


if __name__ == "__main__":
    main()
