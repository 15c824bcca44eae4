"""The poller: every public API (HTTP GET) and the workload's data plane (ICMP echo, TCP) each second.

:mod:`ffulab.ffu.downtime` runs this file's source with the virthost's ``python3`` where the lab's
addresses are reachable (inside the sandbox netns, or on a remote virthost over ssh), so it uses
the standard library only and prints its samples to stdout, one JSON line per probe and tick:
``{"t", "api", "ok", "status"}`` for an API, ``{"t", "probe", "kind", "ok", "ms"[, "uptime"]}`` for
the data plane. Each probe runs in its own thread at its own cadence, so a hung API does not delay
a ping. A TCP probe sends ``GET /`` and keeps the first number of the answer: the workload's
responder answers with its ``/proc/uptime``, which tells a rebooted instance from a running one.
It is bounded: ``--max-seconds``, a per-probe ``--timeout`` (a slower answer counts as lost), and it
exits when its parent or its stdout goes away.
"""

from __future__ import annotations

import argparse
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


def ping(sock: socket.socket, address: str, ident: int, seq: int, timeout: float) -> tuple[bool, float]:
    """One echo request; (a reply came within ``timeout``, milliseconds)."""
    sent = time.monotonic()
    try:
        sock.sendto(echo_request(ident, seq), (address, 0))
    except OSError:
        return False, 0.0
    deadline = sent + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        packet, (source, _port) = sock.recvfrom(2048)
        if is_echo_reply(packet, address, source, ident, seq):
            return True, round((time.monotonic() - sent) * 1000, 1)
    return False, round(timeout * 1000, 1)


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


def icmp_prober(name: str, address: str, timeout: float, ident: int) -> Callable[[], Sample]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    seq = 0

    def run() -> Sample:
        nonlocal seq
        seq = (seq + 1) & 0xFFFF
        ok, ms = ping(sock, address, ident, seq, timeout)
        return {"probe": name, "kind": "icmp", "ok": ok, "ms": ms}

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


def poll(probers: list[Callable[[], Sample]], interval: float, max_seconds: float) -> None:
    """Run every prober in its own thread every ``interval`` s until the bound, the parent or a signal."""
    parent = os.getppid()
    stop = time.monotonic() + max_seconds
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: done.set())
    threads = [
        threading.Thread(target=_loop, args=(prober, interval, stop, done), daemon=True) for prober in probers
    ]
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
    parser.add_argument("--dataplane-timeout", type=float, default=1.0, help="a slower echo counts as lost")
    parser.add_argument("--max-seconds", type=float, default=6 * 3600)
    args = parser.parse_args()
    probers = [http_prober(api, url, args.timeout) for api, url in _pairs(args.url)]
    ident = os.getpid() & 0xFFFF
    for index, (name, address) in enumerate(_pairs(args.icmp)):
        probers.append(icmp_prober(name, address, args.dataplane_timeout, (ident + index) & 0xFFFF))
    for name, target in _pairs(args.tcp):
        address, port = target.rsplit(":", 1)
        probers.append(tcp_prober(name, address, int(port), args.dataplane_timeout))
    if not probers:
        parser.error("nothing to poll: give --url, --icmp or --tcp")
    poll(probers, args.interval, args.max_seconds)


if __name__ == "__main__":
    main()
