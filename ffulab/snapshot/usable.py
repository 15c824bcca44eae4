"""Make a reverted lab usable at once: fresh SSH, guest clocks stepped to the host's, stale neighbours gone.

After a revert, the SSH ControlMaster connections (``provision.access.control_dir()``) talk to a TCP
state the guests no longer have: they are closed first, or the next command hangs until
ServerAlive gives up. The guest clocks are behind by the time since the snapshot (they stop
while a guest is paused, too): each is stepped to the host's time over SSH. The guests have no
NTP source but the undercloud, so ffulab sends the host's time itself, once SSH answers, and
only after the guest said it is ready to read it, which keeps the error to one SSH hop.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ffulab.errors import FfulabError
from ffulab.proc import run
from ffulab.provision.access import ssh_argv
from ffulab.snapshot.domains import parallel

log = logging.getLogger(__name__)

CLOCK_SCRIPT = 'echo ready; read t && date -u -s "@$t" >/dev/null && date -u +%s.%N'
RETRY_INTERVAL = 0.25


def flush_neighbours(wrap: Callable[[list[str]], list[str]], bridges: list[str]) -> None:
    """Forget the virthost's neighbour (ARP) entries on the lab's own bridges, nothing else."""
    for bridge in bridges:
        run(wrap(["ip", "neigh", "flush", "dev", bridge]), check=False, timeout=10)


def set_clock(workspace: Path, node: str, timeout: float = 20) -> float:
    """Step ``node``'s clock to the host's over SSH; return the guest's offset afterwards (seconds).

    Raises ``OSError``-like ``FfulabError`` when SSH does not answer (the caller retries).
    """
    process = subprocess.Popen(
        ssh_argv(workspace, node, [CLOCK_SCRIPT]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        ready = process.stdout.readline()
        if ready.strip() == "ready":
            process.stdin.write(f"{time.time():.6f}\n")
            process.stdin.flush()
            guest = process.stdout.readline().strip()
            host = time.time()
        else:
            guest = ""
        process.stdin.close()
        stderr = process.stderr.read()
        process.wait()
    finally:
        watchdog.cancel()
    if process.returncode != 0 or not guest:
        last = (stderr.strip().splitlines() or [f"exit {process.returncode}"])[-1]
        raise FfulabError(f"{node}: {last}")
    return float(guest) - host


@dataclass
class NodeReady:
    node: str
    seconds: float
    """From the start of the wait to SSH answering with the clock stepped."""
    offset: float
    """Guest clock minus host clock after the step (seconds)."""
    attempts: int
    errors: list[str]
    """The distinct errors of the attempts that failed (e.g. "No route to host")."""


def wait_and_set_clock(
    workspace: Path, node: str, timeout: float = 120, progress: Callable[[str], None] | None = None
) -> NodeReady:
    """Retry ``set_clock`` every quarter second until SSH answers (the first answer steps the clock)."""
    started = time.monotonic()
    attempts, last, errors = 0, "", []
    while time.monotonic() - started < timeout:
        attempts += 1
        try:
            offset = set_clock(workspace, node, timeout=max(5.0, timeout - (time.monotonic() - started)))
            return NodeReady(node, time.monotonic() - started, offset, attempts, errors)
        except FfulabError as exc:
            last = str(exc)
            if last not in errors:
                errors.append(last)
            log.debug("SSH to %s not yet (%d): %s", node, attempts, last)
            if progress and attempts % 8 == 0:
                progress(f"waiting for SSH on {node} ({time.monotonic() - started:.0f}s): {last}")
            time.sleep(RETRY_INTERVAL)
    raise FfulabError(f"{node} did not answer SSH within {timeout:.0f}s after the revert (last: {last})")


def wait_all(
    workspace: Path, nodes: list[str], timeout: float = 120, progress: Callable[[str], None] | None = None
) -> list[NodeReady]:
    """Wait for every node at once (an overcloud node retries until its jump host answers)."""
    results = parallel(lambda node: wait_and_set_clock(workspace, node, timeout, progress), nodes)
    failed = [str(error) for _, error in results if error is not None]
    if failed:
        raise FfulabError("; ".join(failed))
    return [ready for ready, _ in results]


def step_clocks(workspace: Path, nodes: list[str], timeout: float = 20) -> dict[str, float | str]:
    """Best effort (after ``create``): step each clock once; node -> offset, or the error in words."""
    results = parallel(lambda node: set_clock(workspace, node, timeout), nodes)
    return {
        node: (round(offset, 3) if error is None else str(error))
        for node, (offset, error) in zip(nodes, results, strict=True)
    }
