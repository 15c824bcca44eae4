"""The workload image: built from Debian packages (or found in the cache), booted under TCG on a tap in a
network namespace of the test's own, leased an address by a DHCP server there (with OVN's geneve MTU),
then probed by ffulab's own data-plane poller from inside that namespace: ICMP echo answered, and
``GET /`` on TCP 80 answered with an uptime that runs on with the wall clock (the same boot).

Needs root (netns, tap), apt knowing bookworm, qemu-system-x86_64, dnsmasq; ~15-40 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ffulab.image.workload import CMDLINE, ensure_workload_image

TOOLS = ("apt-get", "dpkg-deb", "zstd", "qemu-system-x86_64", "dnsmasq", "ip")
SUBNET = "10.231.77"
"""The test's own addresses: they exist only inside its namespace."""
MTU = 1442

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace and a tap need root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason=f"needs all of {', '.join(TOOLS)}"),
]


@pytest.fixture(scope="module")
def image():
    return ensure_workload_image(progress=print)


@pytest.fixture
def netns():
    name = f"ffulab-wl-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for argv in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "tuntap", "add", "dev", "wl0", "mode", "tap"],
            ["ip", "addr", "add", f"{SUBNET}.1/24", "dev", "wl0"],
            ["ip", "link", "set", "wl0", "up"],
        ):
            subprocess.run(["ip", "netns", "exec", name, *argv], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _start(netns: str, argv: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(["ip", "netns", "exec", netns, *argv], stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_workload_boots_leases_an_address_and_answers_ping_and_its_uptime(image, netns, tmp_path):
    manifest = image.manifest()
    assert manifest["modules"][-1] == "virtio_net", "the NIC's driver loads after its dependencies"
    assert image.initrd.stat().st_size < 4 * 2**20, "the initramfs stays small"
    dhcp = _start(
        netns,
        [
            "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=wl0",
            "--bind-interfaces", f"--dhcp-range={SUBNET}.50,{SUBNET}.60,12h",
            f"--dhcp-option=option:mtu,{MTU}", f"--dhcp-option=option:router,{SUBNET}.1",
            f"--dhcp-leasefile={tmp_path / 'leases'}", "--pid-file",
        ],
        tmp_path / "dnsmasq.log",
    )  # fmt: skip
    console = tmp_path / "console.log"
    started = time.monotonic()
    qemu = _start(
        netns,
        [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "128", "-smp", "1", "-nodefaults", "-no-reboot",
            "-display", "none", "-serial", f"file:{console}", "-kernel", str(image.kernel),
            "-initrd", str(image.initrd), "-append", CMDLINE,
            "-netdev", "tap,id=n0,ifname=wl0,script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:77:00:10",
        ],
        tmp_path / "qemu.log",
    )  # fmt: skip
    try:
        ready = None
        deadline = time.monotonic() + 120  # a bound on the wait, not a timing assertion
        while ready is None and time.monotonic() < deadline and qemu.poll() is None:
            time.sleep(0.5)
            text = console.read_text(errors="replace") if console.exists() else ""
            ready = re.search(r"ffulab-workload: ready (\S+)/(\d+) uptime (\S+)", text)
        boot = round(time.monotonic() - started, 1)
        text = console.read_text(errors="replace") if console.exists() else ""
        assert ready, f"no 'ready' line on the console (qemu rc {qemu.poll()}):\n{text[-3000:]}"
        print(f"workload ready at {ready[1]} after {boot} s (guest uptime {ready[3]} s)")
        address = ready[1]
        assert address.startswith(f"{SUBNET}."), text[-2000:]
        assert re.search(rf"lease {re.escape(address)}/\d+ router {SUBNET}\.1 mtu {MTU}", text), text[-2000:]
        assert "failed" not in text, text[-2000:]

        poll = subprocess.run(
            [
                "ip", "netns", "exec", netns, sys.executable, "-m", "ffulab.ffu.poller",
                "--icmp", f"workload={address}", "--tcp", f"workload={address}:80",
                "--max-seconds", "6", "--dataplane-timeout", "2",
            ],
            capture_output=True, text=True, timeout=60, check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )  # fmt: skip
        samples = [json.loads(line) for line in poll.stdout.splitlines() if line.startswith("{")]
        icmp = [s for s in samples if s.get("kind") == "icmp"]
        tcp = [s for s in samples if s.get("kind") == "tcp"]
        assert len(icmp) >= 3 and all(s["ok"] for s in icmp), f"ICMP echo not answered: {icmp}"
        assert len(tcp) >= 3 and all(s["ok"] and "uptime" in s for s in tcp), f"no uptime answer: {tcp}"
        first, last = tcp[0], tcp[-1]
        elapsed = last["t"] - first["t"]
        assert last["uptime"] > first["uptime"], f"the uptime must run on: {tcp}"
        assert abs((last["uptime"] - first["uptime"]) - elapsed) < 3, f"uptime drifts from the clock: {tcp}"
        assert first["uptime"] >= float(ready[3]), "the answer is this boot's uptime"
    finally:
        _stop(qemu)
        _stop(dhcp)
