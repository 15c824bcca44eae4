"""Ctrl-C and a CI system's SIGTERM wait while the lab is between two consistent states.

A snapshot taken or reverted half-way leaves domains paused and the state naming a moment the lab
is not at. These blocks last seconds, so the signal is held until the block ends and then raised
as the KeyboardInterrupt the CLI turns into "interrupted; rerun". SIGKILL cannot be held:
``ffulab snapshot delete`` cleans up after that one.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held(what: str) -> Iterator[None]:
    """Run the block whole: SIGINT/SIGTERM received meanwhile raise KeyboardInterrupt after it."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        received.append(signum)
        log.warning("%s received: finishing %s first", signal.Signals(signum).name, what)

    previous = {signum: signal.signal(signum, hold) for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise KeyboardInterrupt
