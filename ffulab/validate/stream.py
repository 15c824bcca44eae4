"""Run a test runner with its output read line by line, and never leave its workers behind."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ffulab.errors import FfulabError


def stream(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    on_line: Callable[[str], None],
    timeout: float,
    what: str,
) -> int:
    """Run ``argv`` with each output line passed to ``on_line``; return its exit code.

    It runs in its own process group, killed whole on timeout or interruption: stestr's and
    pytest-xdist's workers are its children and would otherwise go on calling the lab.
    """
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line.rstrip("\n"))
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if killed.is_set():
        raise FfulabError(f"{what}: no end within {timeout:.0f} s; stopped")
    return code
