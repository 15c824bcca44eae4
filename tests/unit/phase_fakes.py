"""Fake phases for the pipeline's tests: each name runs a given function instead of its module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ffulab import pipeline
from ffulab.phases import Phase


@dataclass(frozen=True)
class FakePhase(Phase):
    run: Callable[[Any], None] = field(default=lambda ctx: None)

    def runner(self) -> Callable[[Any], None]:
        return self.run


def fake_phases(
    monkeypatch: pytest.MonkeyPatch,
    runs: dict[str, Callable[[Any], None]],
    snapshots: dict[str, str] | None = None,
    supersedes: dict[str, str] | None = None,
) -> None:
    """The pipeline runs ``runs[name]`` for each phase named there; ``snapshots`` name the automatic
    snapshot after a phase (default: none at all), ``supersedes`` the one that snapshot drops."""
    snapshots, supersedes = snapshots or {}, supersedes or {}
    phases = {
        name: FakePhase(name, name, snapshots.get(name), supersedes.get(name), run=run)
        for name, run in runs.items()
    }
    monkeypatch.setattr(pipeline, "BY_NAME", phases)
