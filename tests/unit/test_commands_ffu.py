"""``ffulab ffu --from-release R --from-step S``: which snapshot it reverts to and where it runs from."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ffulab.commands import ffu
from ffulab.ffu.positions import DONE, FINAL_STEP
from ffulab.state import State

CHAIN = ["2024.1", "2024.2", "2025.1", "2025.2"]


@pytest.fixture
def reverted(monkeypatch):
    names = []
    monkeypatch.setattr(
        ffu,
        "revert",
        lambda state, name, progress: names.append(name) or SimpleNamespace(seconds={"reverted": 0.8}),
    )
    return names


def _newest(monkeypatch, record):
    monkeypatch.setattr(ffu, "newest_snapshot_at_or_before", lambda state, release, step: record)


def test_a_snapshot_after_a_release_runs_from_the_next_release_step_1(tmp_path, monkeypatch, reverted):
    _newest(monkeypatch, {"name": "ffu-2024.2", "ffu": {"release": "2024.2", "step": DONE}})
    state = State.open(tmp_path, "lab")
    assert ffu._revert_to_start(state, CHAIN, "ffu", "2025.1", 6) == ("2025.1", 1)
    assert reverted == ["ffu-2024.2"]


def test_after_the_last_intermediate_release_comes_the_final_deploy(tmp_path, monkeypatch, reverted):
    _newest(monkeypatch, {"name": "ffu-2025.1", "ffu": {"release": "2025.1", "step": DONE}})
    state = State.open(tmp_path, "lab")
    assert ffu._revert_to_start(state, CHAIN, "ffu", "2025.2", FINAL_STEP) == ("2025.2", FINAL_STEP)


def test_a_snapshot_exactly_there_runs_from_there(tmp_path, monkeypatch, reverted):
    _newest(monkeypatch, {"name": "ffu-ready", "ffu": {"release": "2024.2", "step": 1}})
    assert ffu._revert_to_start(State.open(tmp_path, "lab"), CHAIN, "ffu", "2024.2", 1) == ("2024.2", 1)


@pytest.mark.parametrize("record", [None, {"name": "overcloud-deployed", "ffu": None}])
def test_without_an_ffu_snapshot_the_lab_is_not_reverted(tmp_path, monkeypatch, reverted, record):
    _newest(monkeypatch, record)
    assert ffu._revert_to_start(State.open(tmp_path, "lab"), CHAIN, "ffu", "2025.1", 6) == ("2025.1", 6)
    assert reverted == []
