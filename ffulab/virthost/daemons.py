"""Find, start and stop libvirt's daemons without systemd, knowing exactly which ones ffulab started.

Processes are told apart by name and network namespace (``/proc/PID/ns/net``); the ones
ffulab starts are recorded in a small pid file so that teardown stops those and no others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ffulab.errors import VirthostError
from ffulab.virthost.connection import dotted_version, libvirt_open

DAEMONS = ("virtlogd", "libvirtd")
"""Start order: libvirtd hands guest consoles and logs to virtlogd."""
LOG_DIR = Path("/var/log/ffulab")


def netns_inode(pid: int | str = "self") -> int | None:
    """The network namespace of a process (None if it is gone or not ours to look at)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def named_netns_inode(name: str) -> int | None:
    """The namespace behind ``ip netns``' NAME (None if there is no such netns)."""
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def sees_same(pid: int, path: str = "/run/libvirt") -> bool:
    """Whether process ``pid`` sees the same ``path`` as we do (its mount namespace may hide ours: a
    libvirtd with a private /run/libvirt does not own our sockets). When that cannot be found out (the
    process is gone, or is not ours to look into), assume it does."""
    try:
        theirs, ours = os.stat(f"/proc/{pid}/root{path}"), os.stat(path)
    except OSError:
        return True
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def running(pid: int, name: str | None = None) -> bool:
    """Whether ``pid`` is a live (not zombie) process, called ``name`` if given."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
    return name in (None, comm) and state not in "ZX"


def processes(name: str) -> list[int]:
    """The pids of every live process called ``name``."""
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if running(pid, name)]


def spawn(argv: list[str], log_path: Path) -> int:
    """Start a daemon in its own session, output appended to ``log_path``; return its pid.

    The daemon is started by a short-lived child (a double fork), so it outlives ffulab and
    never lingers as ffulab's zombie when it is stopped. ``ip netns exec`` execs its command,
    so the pid is the daemon's own.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the intermediate process
        code = 1
        try:
            os.close(read_end)
            with log_path.open("ab") as log:
                daemon = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
                )
            os.write(write_end, str(daemon.pid).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        pid = pipe.read()
    os.waitpid(child, 0)
    if not pid:
        raise VirthostError(f"could not start {argv[-1]}: see {log_path}")
    return int(pid)


def stop(pid: int, name: str, timeout: float = 15) -> bool:
    """SIGTERM ``pid`` if it still is ``name``, SIGKILL after ``timeout``; return whether it ran."""
    if not running(pid, name):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(pid, name):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline += timeout
        time.sleep(0.1)
    return True


class PidFile:
    """``{"virtlogd": pid, "libvirtd": pid}`` of the daemons ffulab started."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, int]:
        try:
            return {name: int(pid) for name, pid in json.loads(self.path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def save(self, pids: dict[str, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(pids) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def wait_for_libvirt(uri: str, pid: int | None, log: str, timeout: float = 30) -> str:
    """Wait until libvirt answers at ``uri`` (failing early if libvirtd ``pid`` exits); return its version."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with libvirt_open(uri) as conn:
                return dotted_version(conn.getLibVersion())
        except VirthostError as exc:
            if pid is not None and not running(pid):  # no name: it may still be 'ip' before its exec
                raise VirthostError(f"libvirtd (pid {pid}) exited at start; see {log}") from exc
            if time.monotonic() > deadline:
                problem = f"libvirt does not answer at {uri} after {timeout:.0f} s; see {log}"
                raise VirthostError(problem) from exc
        time.sleep(0.2)
