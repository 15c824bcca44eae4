"""A held block runs whole: Ctrl-C or SIGTERM inside it is raised once it ends, never in the middle."""

from __future__ import annotations

import os
import signal

import pytest

from ffulab.interrupts import held


@pytest.fixture(autouse=True)
def _handlers_like_the_cli():
    """The CLI's handlers, whatever the test runner inherited (a background job ignores SIGINT)."""
    previous = {
        signum: signal.signal(signum, signal.default_int_handler)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_signal_is_raised_after_the_block_ends(signum):
    done = []
    with pytest.raises(KeyboardInterrupt), held("a test"):
        os.kill(os.getpid(), signum)
        done.append("the rest of the block")
    assert done == ["the rest of the block"]


def test_no_signal_no_interrupt_and_the_handlers_are_back():
    with held("a test"):
        pass
    assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_error_in_the_block_is_what_the_caller_sees():
    with pytest.raises(ValueError), held("a test"):
        os.kill(os.getpid(), signal.SIGTERM)
        raise ValueError("the block failed")
