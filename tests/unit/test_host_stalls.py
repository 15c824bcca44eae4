"""The machine standing still: noticed from either clock, kept as a clock gap the uptime checks skip."""

from __future__ import annotations

import itertools
import time

import pytest

from ffulab import host_stalls
from ffulab.host_stalls import STALL, TICK, stall, watched
from ffulab.state import State


@pytest.mark.parametrize(
    ("wall", "mono", "stood"),
    [
        (TICK + 0.2, TICK + 0.2, None),  # a loaded host, on time
        (TICK + STALL + 29, TICK + STALL + 29, 34.0),  # both clocks jumped: paused from outside
        (TICK + STALL + 29, TICK, 34.0),  # resumed with the wall clock set forward only
        (TICK + STALL - 0.5, TICK + STALL - 0.5, None),  # late, not stopped
    ],
)
def test_a_stall_is_a_late_wake_on_either_clock(wall, mono, stood):
    window = stall(1000.0, 50.0, 1000.0 + wall, 50.0 + mono)
    if stood is None:
        assert window is None
    else:
        assert window.start == 1000.0 + TICK
        assert window.end - window.start == pytest.approx(stood)


def test_a_stall_becomes_a_clock_gap_and_a_warning(tmp_path, monkeypatch):
    state = State.open(tmp_path / "ws", "compute")
    # the watcher's wakes by its clocks: the third comes 40 s late, then it wakes on time
    wakes = itertools.chain([0.0, 1.0, 2.0, 43.0], itertools.count(44.0))

    def read() -> tuple[float, float]:
        mono = next(wakes)
        return 1_800_000_000.0 + mono, mono

    monkeypatch.setattr(host_stalls, "TICK", 0.001)
    with watched(state, read):
        deadline = time.perf_counter() + 5
        while not state.data.clock_gaps and time.perf_counter() < deadline:
            time.sleep(0.01)
    [gap] = State.load(state.workspace).data.clock_gaps
    assert (gap.start, gap.end) == (1_800_000_000.0 + 2.0 + 0.001, 1_800_000_000.0 + 43.0)
    assert state.data.stood_still() == [gap]
    [warning] = State.load(state.workspace).data.warnings
    assert "stood still 41 s" in warning
