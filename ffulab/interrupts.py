"""Ctrl-C and a CI system's SIGTERM wait while the lab is between two consistent states.

A snapshot taken or reverted half-way leaves domains paused and the state naming a moment the lab
is not at. These blocks last seconds, so the signal is held until the block ends and then raised
as the KeyboardInterrupt the CLI turns into "interrupted; rerun". SIGKILL cannot be held:
``ffulab snapshot delete`` cleans up after that one.

A child in a session of its own (ansible-runner's ansible-playbook, under a pty) gets no signal when
ffulab does: the block asks the callable ``held`` yields and stops the child itself, so nothing
ffulab started outlives it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held(then: str) -> Iterator[Callable[[], bool]]:
    """Run the block whole: SIGINT/SIGTERM received meanwhile raise KeyboardInterrupt after it.

    ``then`` says what happens meanwhile ("finishing snapshot create X first"). The block may ask the
    callable it gets whether one came, to end sooner (e.g. stop a child).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield lambda: False
        return

    def hold(signum: int, _frame: object) -> None:
        received.append(signum)
        log.warning("%s received: %s", signal.Signals(signum).name, then)

    previous = {signum: signal.signal(signum, hold) for signum in HELD}
    try:
        yield lambda: bool(received)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise KeyboardInterrupt
