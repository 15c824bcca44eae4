"""Notice when the machine running the lab stood still: its own hypervisor paused it (a snapshot of
the machine, a migration), and every guest with it.

The guests live through none of that time, so their clocks fall behind the wall clock by as much, as
through ffulab's own snapshot pauses. Measured here: the host stood still 34 s during a canary's
final deploy and the workload's uptime fell 33 s behind, with no ping lost (the poller stood still
too). Such a stall goes into the state's ``clock_gaps``, so a workload's uptime is judged without
it, and into the summary's warnings, since nothing watched the lab then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ffulab.state import State, Window
from ffulab.ui import console

log = logging.getLogger(__name__)

TICK = 1.0
"""How often the watcher wakes (seconds)."""
STALL = 5.0
"""A wake this much later than asked: the machine did not run (a loaded 2-core host wakes a sleeping
thread within milliseconds)."""


def stall(wall: float, mono: float, now_wall: float, now_mono: float) -> Window | None:
    """The window the machine stood still between two wakes, if it did. Both clocks are read: after a
    pause, the wall clock may be set forward while the monotonic one has not moved."""
    late = max(now_wall - wall, now_mono - mono) - TICK
    if late < STALL:
        return None
    return Window(start=round(wall + TICK, 3), end=round(now_wall, 3))


def clocks() -> tuple[float, float]:
    """The wall clock and the monotonic one, now."""
    return time.time(), time.monotonic()


@contextmanager
def watched(state: State, read: Callable[[], tuple[float, float]] = clocks) -> Iterator[None]:
    """Watch for stalls while the block runs (the phases of one command), reading the clocks with
    ``read``."""
    done = threading.Event()

    def watch() -> None:
        wall, mono = read()
        while not done.wait(TICK):
            now_wall, now_mono = read()
            window = stall(wall, mono, now_wall, now_mono)
            if window:
                record(state, window)
            wall, mono = now_wall, now_mono

    thread = threading.Thread(target=watch, name="ffulab-host-stalls", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def record(state: State, window: Window) -> None:
    """Keep the stall in the state (saved) and say it."""
    seconds = window.end - window.start
    at = time.strftime("%H:%M:%S", time.localtime(window.start))
    line = (
        f"the machine stood still {seconds:.0f} s from {at} (paused from outside ffulab): the lab with it, "
        "unwatched; the guests' clocks are judged without it"
    )
    log.warning(line)
    console.print(f"[yellow]{line}[/]")
    state.data.clock_gaps = [*state.data.clock_gaps, window]
    state.warn([line])
