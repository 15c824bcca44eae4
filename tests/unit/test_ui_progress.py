"""Progress in CI logs (stdout not a terminal): a line per update with the wall clock and elapsed times."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from ffulab import ui


@pytest.fixture
def output(monkeypatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(ui, "console", Console(file=buffer, force_terminal=False, width=160, highlight=False))
    return buffer


def test_plain_lines_carry_clock_phase_elapsed_and_time_since_the_last_line(output, monkeypatch):
    now = iter([100.0, 112.4, 190.0])
    monkeypatch.setattr(ui.time, "monotonic", lambda: next(now))
    with ui.phase_progress("ffu") as progress:
        progress("2024.2 step 1 on overcloud-controller-0")
        progress("2024.2 step 2 on overcloud-controller-0")
    lines = output.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d ▶ ffu", lines[0])
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d \[ffu 12s \+12s\] 2024\.2 step 1 on overcloud-controller-0", lines[1]
    )
    assert lines[2].endswith("[ffu 90s +78s] 2024.2 step 2 on overcloud-controller-0")


def test_a_phase_that_stops_on_an_error_says_so(output):
    with pytest.raises(RuntimeError), ui.phase_progress("validate") as progress:
        progress("tempest")
        raise RuntimeError("boom")
    assert re.search(r"✗ validate +\d+\.\ds  stopped", output.getvalue())
