"""Daemon bookkeeping: live processes by name, detached start, stop, the pid file."""

from __future__ import annotations

import time
from pathlib import Path

from ffulab.virthost import daemons


def test_spawn_detaches_and_stop_ends_it(tmp_path: Path):
    log = tmp_path / "logs" / "sleep.log"
    pid = daemons.spawn(["sleep", "30"], log)
    assert daemons.running(pid, "sleep")
    assert pid in daemons.processes("sleep")
    assert daemons.netns_inode(pid) == daemons.netns_inode()
    assert log.exists()
    assert daemons.stop(pid, "sleep", timeout=5)
    assert not daemons.running(pid, "sleep")
    assert not daemons.stop(pid, "sleep")


def test_running_checks_the_name_too(tmp_path: Path):
    pid = daemons.spawn(["sleep", "30"], tmp_path / "log")
    try:
        assert not daemons.running(pid, "libvirtd")
        assert not daemons.stop(pid, "libvirtd")
    finally:
        daemons.stop(pid, "sleep", timeout=5)


def test_pid_file_round_trip_and_garbage(tmp_path: Path):
    pidfile = daemons.PidFile(tmp_path / "run" / "pids.json")
    assert pidfile.load() == {}
    pidfile.save({"virtlogd": 10, "libvirtd": 11})
    assert pidfile.load() == {"virtlogd": 10, "libvirtd": 11}
    pidfile.path.write_text("not json")
    assert pidfile.load() == {}
    pidfile.remove()
    pidfile.remove()
    assert not pidfile.path.exists()


def test_wait_for_libvirt_fails_fast_when_libvirtd_is_gone(tmp_path: Path):
    import pytest

    from ffulab.errors import VirthostError

    started = time.monotonic()
    with pytest.raises(VirthostError, match=r"exited at start; see /var/log/x\.log"):
        daemons.wait_for_libvirt("qemu+unix:///system?socket=/nonexistent", 2**22 + 1, "/var/log/x.log")
    assert time.monotonic() - started < 5
