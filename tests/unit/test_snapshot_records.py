"""Snapshot metadata in state.json: names, FFU positions, and which snapshot an FFU rerun starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffulab.errors import BadSnapshotName, FfulabError, NoSuchSnapshot
from ffulab.snapshot import newest_snapshot_at_or_before, records
from ffulab.state import FfuRecord, OvercloudRecord, State, Window

CHAIN = ["2024.1", "2024.2", "2025.1", "2025.2"]


@pytest.fixture
def state(tmp_path: Path) -> State:
    state = State.open(tmp_path / "ws", "keystone-only")
    state.update(config={"config": {"release": {"ffu_chain": CHAIN}}})
    return state


def _add(state: State, name: str, created: float, ffu=None, phases=("overcloud",), status="complete"):
    records.put(
        state,
        {
            "name": name,
            "status": status,
            "created": created,
            "ffu": ffu,
            "phases": {phase: {"status": "done"} for phase in phases},
            "nodes": [],
        },
    )


def test_a_timestamped_name_is_a_valid_name():
    name = records.timestamped_name(0)
    assert name == "snap-19700101-000000"
    assert records.check_name(name) == name


@pytest.mark.parametrize("name", ["", "has space", "it's", "-leading-dash", "a" * 64, "semi;colon"])
def test_names_qemu_and_a_shell_could_misread_are_refused(name):
    with pytest.raises(BadSnapshotName) as caught:
        records.check_name(name)
    assert caught.value.exit_code == 2


def test_ffu_position_is_where_the_engine_is():
    assert records.ffu_position(FfuRecord()) is None
    assert records.ffu_position(FfuRecord(release="2024.2")) == {"release": "2024.2", "step": 1}
    assert records.ffu_position(FfuRecord(release="2024.2", step=4)) == {"release": "2024.2", "step": 4}


def test_new_record_keeps_phases_and_ffu_state_as_they_are_now(state: State):
    state.mark_phase("provision", "done", seconds=3.0)
    state.update(ffu=FfuRecord(release="2024.2", step=5), overcloud=OvercloudRecord(release="2024.1"))
    record = records.new_record(state, "s1", [{"name": "undercloud"}], auto=False)
    state.mark_phase("provision", "failed")
    state.update(ffu=FfuRecord(release="2025.1", step=2), overcloud=OvercloudRecord(release="2025.2"))
    state.update(validations={"final": {}})
    assert record["phase"] == "provision"
    assert record["phases"]["provision"]["status"] == "done", "the record must not share the live map"
    assert record["ffu"] == {"release": "2024.2", "step": 5}
    records.restore(state, record)
    assert state.phase("provision").status == "done"
    assert (state.data.ffu.release, state.data.ffu.step) == ("2024.2", 5)
    assert state.data.overcloud.release == "2024.1", "what the lab runs goes back too"
    assert state.data.validations == {}
    assert state.data.last_revert["snapshot"] == "s1"


def test_restore_of_a_snapshot_from_before_the_ffu_engine_forgets_its_state(state: State):
    record = records.new_record(state, "early", [], auto=True)
    state.update(ffu=FfuRecord(release="2024.2", step=5))
    records.restore(state, record)
    assert State.load(state.workspace).data.ffu == FfuRecord()


def test_a_revert_is_a_gap_in_the_guests_clocks_that_the_next_revert_keeps(state: State, monkeypatch):
    """After a revert the guests are back at the moment the snapshot paused them: from then to the revert
    their uptime did not run on. That history is the lab's, so a later revert does not take it back."""
    record = records.new_record(state, "s1", [], auto=False)
    record["paused"] = {"start": 1000.0, "end": 1012.0}
    monkeypatch.setattr(records.time, "time", lambda: 1500.0)
    records.restore(state, record)
    assert State.load(state.workspace).data.clock_gaps == [Window(start=1000.0, end=1500.0)]
    monkeypatch.setattr(records.time, "time", lambda: 1700.0)
    records.restore(state, record)
    assert [(w.start, w.end) for w in state.data.clock_gaps] == [(1000.0, 1500.0), (1000.0, 1700.0)]
    assert [(w.start, w.end) for w in state.data.stood_still()] == [(1000.0, 1700.0)]


def test_the_lab_stood_still_in_its_snapshot_pauses_and_revert_gaps_merged(state: State):
    state.data.ffu.paused = [Window(start=300.0, end=320.0), Window(start=100.0, end=110.0)]
    state.data.clock_gaps = [Window(start=500.0, end=600.0)]
    _add(state, "overcloud-deployed", 1.0)
    state.data.snapshots[-1]["paused"] = {"start": 310.0, "end": 330.0}
    still = [(w.start, w.end) for w in state.data.stood_still()]
    assert still == [(100.0, 110.0), (300.0, 330.0), (500.0, 600.0)]


def test_newest_snapshot_at_or_before_follows_the_ffu_chain(state: State):
    _add(state, "overcloud-deployed", 1.0)
    _add(state, "ffu-2024.2", 2.0, ffu={"release": "2024.2", "step": records.DONE_STEP}, phases=("ffu",))
    _add(state, "mid-2025.1", 3.0, ffu={"release": "2025.1", "step": 4}, phases=("ffu",))
    _add(state, "validated", 4.0, phases=("ffu", "validate"))  # after the FFU, position unknown

    def pick(release: str, step: int) -> str | None:
        found = newest_snapshot_at_or_before(state, release, step)
        return found and found["name"]

    assert pick("2024.2", 3) == "overcloud-deployed"
    assert pick("2025.1", 1) == "ffu-2024.2"
    assert pick("2025.1", 4) == "mid-2025.1"
    assert pick("2025.1", 9) == "mid-2025.1"
    assert pick("2025.2", 10) == "mid-2025.1"


def test_of_two_snapshots_at_the_same_position_the_newer_wins(state: State):
    _add(state, "older", 1.0, ffu={"release": "2024.2", "step": 3}, phases=("ffu",))
    _add(state, "newer", 2.0, ffu={"release": "2024.2", "step": 3}, phases=("ffu",))
    assert newest_snapshot_at_or_before(state, "2024.2", 3)["name"] == "newer"


def test_half_made_snapshots_are_never_chosen(state: State):
    _add(state, "broken", 5.0, ffu={"release": "2024.2", "step": 2}, phases=("ffu",), status="creating")
    assert newest_snapshot_at_or_before(state, "2025.1", 1) is None


def test_a_release_outside_the_chain_is_an_error(state: State):
    with pytest.raises(FfulabError, match="not in this lab's FFU chain"):
        newest_snapshot_at_or_before(state, "2023.1", 1)


def test_without_a_chain_in_state_series_names_give_the_order(tmp_path: Path):
    state = State.open(tmp_path / "bare", "keystone-only")
    _add(state, "a", 1.0, ffu={"release": "2024.2", "step": 9}, phases=("ffu",))
    _add(state, "b", 2.0, ffu={"release": "2025.1", "step": 2}, phases=("ffu",))
    assert newest_snapshot_at_or_before(state, "2025.1", 1)["name"] == "a"


def test_an_unknown_snapshot_names_the_known_ones(state: State):
    _add(state, "s1", 1.0)
    _add(state, "half", 2.0, status="creating")
    with pytest.raises(NoSuchSnapshot, match=r"snapshots: s1$") as caught:
        records.get(state, "nope")
    assert caught.value.exit_code == 2
    assert records.get(state, "half", complete=False)["name"] == "half"
