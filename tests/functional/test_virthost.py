"""The sandbox virthost for real: prepare (cold, then warm), libvirt only in the netns, the probe, teardown.

Needs root and a machine with no libvirtd of its own. The tests run in file order and share one
sandbox; the last one tears it down, and the fixture makes sure nothing is left running.
Set FFULAB_EXPECT_VIRT_TYPE (e.g. ``qemu`` on the project's machines, where KVM guests hang)
to also assert the probe's decision.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from ffulab.virthost import Sandbox, daemons, probe
from ffulab.virthost.connection import libvirt_open
from ffulab.virthost.sandbox import NETNS

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root"),
]

TEST_NETWORK = "<network><name>ffulab-functest</name><bridge name='fffunctest0'/></network>"


def _virsh_version(netns: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["virsh", "-c", "qemu:///system", "version"]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def _libvirtds_outside_sandbox() -> list[int]:
    sandbox = daemons.named_netns_inode(NETNS)
    return [pid for pid in daemons.processes("libvirtd") if daemons.netns_inode(pid) != sandbox]


@pytest.fixture(scope="module")
def sandbox():
    if daemons.processes("libvirtd") or daemons.named_netns_inode(NETNS):
        pytest.skip("a libvirtd or the sandbox netns already exists: these tests need a machine without")
    host = Sandbox()
    host.probe_cache.unlink(missing_ok=True)  # probe for real
    yield host
    host.teardown_if_unused()


def test_probe_guest_prints_the_marker_under_tcg():
    printed, seconds, output = probe.run_guest(list, "tcg", probe.TCG_TIMEOUT_SECONDS)
    assert printed, f"no {probe.MARKER!r} from the probe guest under TCG; qemu said: {output}"
    assert seconds < 30


def test_cold_prepare_starts_libvirtd_and_virtlogd_in_the_netns(sandbox):
    started = time.monotonic()
    changed = sandbox.prepare(progress=print)
    print(f"cold prepare: {time.monotonic() - started:.1f} s: {changed}")
    assert any(line.startswith("started virtlogd") for line in changed), changed
    assert any(line.startswith("virt type:") for line in changed), changed
    namespace = daemons.named_netns_inode(NETNS)
    pids = sandbox.pidfile.load()
    assert set(pids) == {"virtlogd", "libvirtd"}
    assert all(daemons.netns_inode(pid) == namespace for pid in pids.values())


def test_warm_prepare_changes_nothing_and_is_fast(sandbox):
    started = time.monotonic()
    changed = sandbox.prepare()
    seconds = time.monotonic() - started
    print(f"warm prepare: {seconds:.2f} s")
    assert changed == []
    assert seconds < 2


def test_libvirt_answers_only_through_the_netns_daemons(sandbox):
    assert _libvirtds_outside_sandbox() == []
    for netns in (None, NETNS):  # the socket is a file: the host namespace reaches the same daemon
        result = _virsh_version(netns)
        assert result.returncode == 0, result.stdout + result.stderr
    with libvirt_open(sandbox.uri) as conn:
        assert conn.getLibVersion() > 0


def test_probe_decision(sandbox):
    result, fresh = sandbox.virt_type()
    assert not fresh, "prepare should have cached the decision"
    if result.virt_type == "kvm":
        assert result.kvm_seconds is not None
        assert result.kvm_seconds <= result.tcg_seconds + probe.KVM_GRACE_SECONDS
    expected = os.environ.get("FFULAB_EXPECT_VIRT_TYPE")
    if expected:
        assert result.virt_type == expected, result.reason


def test_check_says_ready(sandbox):
    report = sandbox.check()
    assert report.ok, "\n".join(report.lines())
    assert report.libvirt_version and report.virt_type
    assert report.memory_total_mib and report.disk_free_mib["/var/lib/libvirt"]


def test_prepare_restarts_daemons_that_died(sandbox):
    before = sandbox.pidfile.load()
    for pid in before.values():
        os.kill(pid, signal.SIGKILL)
    while any(daemons.running(pid, name) for name, pid in before.items()):
        time.sleep(0.05)
    changed = sandbox.prepare()
    assert any(line.startswith("started virtlogd") for line in changed), changed
    assert set(sandbox.pidfile.load().values()).isdisjoint(before.values())
    assert _virsh_version().returncode == 0


def test_teardown_keeps_a_used_sandbox_and_removes_an_unused_one(sandbox):
    with libvirt_open(sandbox.uri) as conn:
        conn.networkDefineXML(TEST_NETWORK)  # defined only: no bridge is created
    try:
        kept = sandbox.teardown_if_unused(sandbox.uri)
        assert kept and kept[0].startswith("sandbox kept"), kept
        assert daemons.named_netns_inode(NETNS)
    finally:
        with libvirt_open(sandbox.uri) as conn:
            conn.networkLookupByName("ffulab-functest").undefine()
    pids = sandbox.pidfile.load()
    done = sandbox.teardown_if_unused(sandbox.uri)
    assert f"deleted netns {NETNS}" in done, done
    assert daemons.named_netns_inode(NETNS) is None
    assert NETNS not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(daemons.running(pid, name) for name, pid in pids.items())
    assert daemons.processes("libvirtd") == daemons.processes("virtlogd") == []
    assert _virsh_version().returncode != 0
    assert sandbox.teardown_if_unused() == []


def test_a_hanging_kvm_probe_guest_is_stopped_at_its_deadline():
    started = time.monotonic()
    probe.run_guest(list, "kvm", 3.0)
    assert time.monotonic() - started < 3.0 + 5
