"""One ffulab command changes a lab at a time: a second one is refused, naming the first.

Two processes on one lab would interleave libvirt calls and overwrite each other's state. The lock
is a ``flock`` on ``WS/.lock``, so the kernel drops it when its process ends, even after a SIGKILL:
a crashed run never leaves the lab locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ffulab.errors import FfulabError

LOCK_FILE = ".lock"

_held: dict[Path, int] = {}
"""Workspace -> the open lock file of this process (a command may hold its lab more than once)."""


class LabBusy(FfulabError):
    """Another ffulab process is changing this lab."""


def hold(workspace: Path, command: str) -> None:
    """Hold ``workspace`` for this process, or raise LabBusy naming the process that holds it."""
    workspace = workspace.resolve()
    if workspace in _held:
        return
    workspace.mkdir(parents=True, exist_ok=True)
    fd = os.open(workspace / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise LabBusy(
            f"{workspace}: the lab is in use by {holder}; wait for it to end, "
            "or stop it (Ctrl-C, or kill that pid), then run this command again"
        ) from None
    os.ftruncate(fd, 0)
    holder = f"ffulab {command.replace('-', ' ')} (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})"
    os.pwrite(fd, f"{holder}\n".encode(), 0)
    _held[workspace] = fd
