"""The data plane through the FFU: the poller's ICMP and TCP probes, loss and outages, the uptime counter."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ffulab.ffu import dataplane, poller
from ffulab.job.summary import build_summary
from ffulab.state import LabState, Window, Workload

WORKLOAD = {"workload": Workload(address="192.168.150.20", tcp=80, server="uuid-1", host="compute-0")}


def _plane(*rows, kind="icmp", name="workload"):
    """Samples (t, ok[, uptime]) of one probe."""
    samples = []
    for row in rows:
        sample = {"t": float(row[0]), "probe": name, "kind": kind, "ok": row[1], "ms": 1.0}
        if len(row) > 2:
            sample["uptime"] = float(row[2])
        samples.append(sample)
    return samples


def test_an_echo_request_carries_a_valid_checksum_and_its_reply_is_recognised():
    packet = poller.echo_request(0x1234, 7)
    assert poller._checksum(packet) == 0, "a packet with its checksum in place sums to zero"
    reply = bytearray(20) + bytearray(packet)
    reply[0], reply[20] = 0x45, 0  # IPv4 header of 20 bytes; type 0: echo reply
    assert poller.is_echo_reply(bytes(reply), "10.0.0.1", "10.0.0.1", 0x1234, 7)
    assert not poller.is_echo_reply(bytes(reply), "10.0.0.1", "10.0.0.2", 0x1234, 7), "another host"
    assert not poller.is_echo_reply(bytes(reply), "10.0.0.1", "10.0.0.1", 0x1234, 8), "another sequence"
    reply[20] = 8
    assert not poller.is_echo_reply(bytes(reply), "10.0.0.1", "10.0.0.1", 0x1234, 7), "our own request"


def test_loss_the_longest_outage_and_its_window():
    samples = _plane(
        (0, True), (1, False), (2, True), (3, False), (4, False), (5, False), (6, True), (7, True)
    )
    record = dataplane.merge({}, WORKLOAD, samples, until=None)["workload"]
    icmp = record.probes["icmp"]
    assert (icmp.samples, icmp.lost, icmp.loss_percent) == (8, 4, 50.0)
    assert icmp.longest == 3.0
    assert (icmp.longest_window.start, icmp.longest_window.end) == (3.0, 6.0)
    assert (icmp.started, icmp.ended) == (0.0, 7.0)
    assert record.server == "uuid-1" and record.host == "compute-0"


def test_samples_after_the_final_deploy_do_not_count():
    samples = _plane((0, True), (1, True), (2, False), (3, False))
    icmp = dataplane.merge({}, WORKLOAD, samples, until=1.5)["workload"].probes["icmp"]
    assert (icmp.samples, icmp.lost) == (2, 0)


def test_a_resumed_ffu_adds_up():
    first = dataplane.merge({}, WORKLOAD, _plane((0, True), (1, False), (2, True)), None)
    second = dataplane.merge(first, WORKLOAD, _plane((50, True), (51, True)), None)
    icmp = second["workload"].probes["icmp"]
    assert (icmp.samples, icmp.lost, icmp.started, icmp.ended) == (5, 1, 0.0, 51.0)


def test_an_uptime_that_runs_on_is_continuous_across_resumed_runs():
    first = dataplane.merge({}, WORKLOAD, _plane((100, True, 30), (110, True, 40), kind="tcp"), None)
    second = dataplane.merge(first, WORKLOAD, _plane((200, True, 130), (201, False), kind="tcp"), None)
    uptime = second["workload"].uptime
    assert (uptime.first, uptime.last, uptime.continuous) == (30.0, 130.0, True)


@pytest.mark.parametrize(
    "rows",
    [
        [(100, True, 300), (110, True, 5)],  # went back: rebooted
        [(100, True, 300), (200, True, 310)],  # stood still for 90 s of wall time: a paused or new instance
    ],
)
def test_an_uptime_that_goes_back_or_stalls_is_not_continuous(rows):
    record = dataplane.merge({}, WORKLOAD, _plane(*rows, kind="tcp"), None)["workload"]
    assert record.uptime.continuous is False
    assert any("uptime" in p for p in dataplane.problems({"workload": record}, 60, 1))


def test_a_snapshot_pause_is_not_an_outage_nor_a_stalled_uptime():
    """ffulab pauses every domain while it takes an FFU snapshot: the pings then and just before (their
    answer could not come) are not lost, and the guest's uptime does not run on through the pause."""
    pause = [Window(start=110.0, end=130.0)]
    icmp = _plane(*((t, not 107 <= t <= 130) for t in range(100, 140)))
    tcp = _plane((100, True, 50), (140, True, 70), kind="tcp")
    counted = dataplane.merge({}, WORKLOAD, icmp + tcp, None, pause)["workload"]
    assert (counted.probes["icmp"].lost, counted.probes["icmp"].samples) == (0, 15)
    assert counted.uptime.continuous is True
    naive = dataplane.merge({}, WORKLOAD, icmp + tcp, None)["workload"]
    assert naive.probes["icmp"].lost == 24 and naive.uptime.continuous is False


def test_a_revert_mid_ffu_is_not_a_reboot():
    """A rerun after a revert: the record comes back from the snapshot (last answer at 100 s, uptime 50),
    the guest resumes from the moment it was taken (110 s) although the revert came at 400 s."""
    before = dataplane.merge({}, WORKLOAD, _plane((100, True, 50), kind="tcp"), None)
    after = _plane((420, True, 80), kind="tcp")
    gap = [Window(start=110.0, end=400.0)]
    assert dataplane.merge(before, WORKLOAD, after, None, gap)["workload"].uptime.continuous is True
    assert dataplane.merge(before, WORKLOAD, after, None)["workload"].uptime.continuous is False


def test_the_limits_fail_a_long_outage_or_too_much_loss_and_pass_none():
    clean = dataplane.merge({}, WORKLOAD, _plane(*((t, True) for t in range(200))), None)
    assert dataplane.problems(clean, 60, 1) == []
    one = dataplane.merge({}, WORKLOAD, _plane(*((t, t != 50) for t in range(200))), None)
    assert dataplane.problems(one, 60, 1) == [], "one lost ping in 200 is 0.5 %"
    assert dataplane.problems(one, 60, 0) == ["data plane workload icmp: 1/200 lost (0.5% > 0%)"]
    long = dataplane.merge({}, WORKLOAD, _plane(*((t, not 10 <= t < 80) for t in range(1000))), None)
    assert dataplane.problems(long, 60, 10) == ["data plane workload icmp: longest outage 70 s > 60 s"]


def test_a_workload_never_pinged_is_a_problem_not_a_pass():
    record = dataplane.merge({}, WORKLOAD, [], None)
    assert dataplane.problems(record, 60, 1) == ["data plane workload: no ping was sent"]


def test_the_resources_output_names_the_workloads():
    out = "ffulab-resource: server workload created\nffulab-dataplane: " + json.dumps(
        {"name": "workload", "address": "192.168.150.20", "tcp": 80, "server": "u", "host": "c0"}
    )
    found = dataplane.parse_workloads("nova", out + "\nffulab-dataplane: {broken\n")
    assert found == {
        "workload": Workload(address="192.168.150.20", tcp=80, server="u", host="c0", service="nova")
    }
    assert dataplane.poller_args(found) == [
        "--icmp",
        "workload=192.168.150.20",
        "--tcp",
        "workload=192.168.150.20:80",
    ]


def test_the_summary_fails_the_run_on_the_data_plane():
    state = LabState(lab="x", config={"config": {"settings": {"ffu": {"dataplane": {"max_outage": 5}}}}})
    state.ffu.dataplane = dataplane.merge(
        {}, WORKLOAD, _plane(*((t, not 10 <= t < 20) for t in range(100))), None
    )
    summary = build_summary(state)
    assert summary["dataplane"]["limits"]["max_outage"] == 5
    assert "data plane workload icmp: longest outage 10 s > 5 s" in summary["reasons"]
    assert summary["dataplane"]["workloads"]["workload"]["probes"]["icmp"]["lost"] == 10


class _Uptime(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(1024)
        self.request.sendall(b"HTTP/1.0 200 OK\r\n\r\n4242.17 8000.00\n")


@pytest.fixture
def responder():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Uptime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _raw_icmp_allowed() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except PermissionError:
        return False
    return True


def test_the_poller_source_pings_and_reads_the_uptime_on_loopback(responder: int, tmp_path: Path):
    """From its source with a bare python3, as on the virthost; a closed port counts as lost."""
    if not _raw_icmp_allowed():
        pytest.skip(f"raw ICMP sockets need root or CAP_NET_RAW (uid {os.getuid()})")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    source = Path(poller.__file__).read_text()
    argv = [
        sys.executable,
        "-I",
        "-c",
        source,
        "--icmp",
        "lo=127.0.0.1",
        "--tcp",
        f"lo=127.0.0.1:{responder}",
    ]
    argv += ["--tcp", f"gone=127.0.0.1:{closed_port}", "--interval", "0.2", "--max-seconds", "1.2"]
    started = time.time()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True).stdout
    samples = [json.loads(line) for line in out.splitlines()]
    icmp = [s for s in samples if s["kind"] == "icmp"]
    tcp = [s for s in samples if s["probe"] == "lo" and s["kind"] == "tcp"]
    assert len(icmp) >= 3 and all(s["ok"] for s in icmp)
    assert tcp and all(s["ok"] and s["uptime"] == 4242.17 for s in tcp)
    assert [s["ok"] for s in samples if s["probe"] == "gone"] and not any(
        s["ok"] for s in samples if s["probe"] == "gone"
    )
    assert all(started <= s["t"] <= time.time() for s in samples)


class _SlowPeer:
    """A raw ICMP socket whose peer answers each echo ``delay`` s after it went, except ``unanswered``."""

    def __init__(self, delay: float, unanswered: set[int]):
        self.delay, self.unanswered = delay, unanswered
        self.due: list[tuple[float, bytes]] = []

    def sendto(self, packet: bytes, _address) -> None:
        seq = int.from_bytes(packet[6:8], "big")
        if seq not in self.unanswered:
            reply = bytes([0x45]) + bytes(19) + bytes([0]) + packet[1:]
            self.due.append((time.monotonic() + self.delay, reply))

    def select(self, _read, _write, _error, timeout: float):
        if self.due and self.due[0][0] <= time.monotonic() + timeout:
            time.sleep(max(0.0, self.due[0][0] - time.monotonic()))
            return [self], [], []
        time.sleep(timeout)
        return [], [], []

    def recvfrom(self, _size: int):
        return self.due.pop(0)[1], ("10.0.0.9", 0)


def test_a_late_echo_reply_is_an_answer_and_only_an_unanswered_one_is_lost(monkeypatch):
    """As ping(8) counts: replies coming after the next request went (a stalled TCG node) are answers."""
    peer = _SlowPeer(delay=0.5, unanswered={3})
    samples: list[dict] = []
    monkeypatch.setattr(poller.socket, "socket", lambda *_args: peer)
    monkeypatch.setattr(poller.select, "select", peer.select)
    monkeypatch.setattr(poller, "_emit", samples.append)
    started = time.monotonic()
    poller.pinger("w", "10.0.0.9", 7, 0.2, 2.0, started + 0.9, threading.Event())
    sent = [s["ok"] for s in sorted(samples, key=lambda s: s["t"])]
    assert len(sent) >= 4, "one echo per interval, each answered or given up on before the pinger ends"
    assert sent[:3] == [True, True, False] and all(sent[3:]), "the third echo alone had no reply"
    assert all(s["ms"] >= 500 for s in samples if s["ok"]), "answered late, after the next echo went"
