"""Automatic snapshots at phase boundaries, the FFU engine's call, and the snapshot command line."""

from __future__ import annotations

import json

import pytest
from phase_fakes import fake_phases
from snapshot_fakes import FakeLab, make_fake_lab

from ffulab import cli, snapshot
from ffulab.config.resolve import resolve
from ffulab.context import Context
from ffulab.phases import PHASE_NAMES, PHASES
from ffulab.pipeline import run_phases
from ffulab.snapshot import auto_snapshot, newest_snapshot_at_or_before, records


@pytest.fixture
def fake_lab(tmp_path, monkeypatch):
    yield from make_fake_lab(tmp_path, monkeypatch)


@pytest.fixture
def fake_phase(monkeypatch):
    """A phase 'fakephase' that does nothing, with an automatic snapshot 'fake-ready' after it."""
    ran: list[str] = []
    runs = {name: (lambda n: lambda ctx: ran.append(n))(name) for name in [*PHASE_NAMES, "fakephase"]}
    fake_phases(monkeypatch, runs, {"fakephase": "fake-ready"})
    return ran


def _ctx(fake_lab: FakeLab, *extra: str) -> Context:
    resolved = resolve(nodes="1ctlr", extra_vars=list(extra))
    return Context(resolved=resolved, state=fake_lab.state, workspace=fake_lab.state.workspace)


def test_the_milestone_phases_are_named_as_the_design_says():
    assert {phase.name: phase.snapshot for phase in PHASES if phase.snapshot} == {
        "undercloud": "undercloud-ready",
        "overcloud": "overcloud-deployed",
        "validate": "validated",
    }
    assert {phase.name: phase.supersedes for phase in PHASES if phase.supersedes} == {
        "overcloud": "undercloud-ready"
    }


def test_a_named_phase_is_followed_by_its_automatic_snapshot(fake_lab: FakeLab, fake_phase):
    run_phases(_ctx(fake_lab), ["fakephase"])
    assert fake_phase == ["fakephase"]
    record = records.get(fake_lab.state, "fake-ready")
    assert record["auto"] is True
    assert record["phases"]["fakephase"]["status"] == "done", "taken once the phase is done"
    assert fake_lab.snapshots("undercloud") == ["fake-ready"]


@pytest.mark.parametrize("keep", [False, True])
def test_a_phase_snapshot_drops_the_automatic_one_it_supersedes(fake_lab: FakeLab, monkeypatch, keep):
    runs = {name: (lambda ctx: None) for name in ("early", "late")}
    fake_phases(monkeypatch, runs, {"early": "early-ready", "late": "late-ready"}, {"late": "early-ready"})
    extra = ["settings.snapshots.keep_superseded=true"] if keep else []
    run_phases(_ctx(fake_lab, *extra), ["early"])
    assert fake_lab.snapshots("undercloud") == ["early-ready"]
    run_phases(_ctx(fake_lab, *extra), ["late"])
    names = [r["name"] for r in fake_lab.state.data.snapshots]
    assert names == (["early-ready", "late-ready"] if keep else ["late-ready"])
    assert sorted(fake_lab.snapshots("undercloud")) == names, "libvirt and the state agree"


def test_a_superseded_snapshot_made_by_hand_is_kept(fake_lab: FakeLab, monkeypatch):
    fake_phases(monkeypatch, {"late": lambda ctx: None}, {"late": "late-ready"}, {"late": "early-ready"})
    snapshot.create(fake_lab.state, "early-ready")
    run_phases(_ctx(fake_lab), ["late"])
    assert [r["name"] for r in fake_lab.state.data.snapshots] == ["early-ready", "late-ready"]


def test_other_phases_take_no_snapshot(fake_lab: FakeLab, fake_phase):
    run_phases(_ctx(fake_lab), ["bmc"])
    assert fake_lab.state.data.snapshots == []
    assert fake_lab.snapshots("undercloud") == []


def test_a_rerun_replaces_the_older_automatic_snapshot(fake_lab: FakeLab, fake_phase):
    run_phases(_ctx(fake_lab), ["fakephase"])
    first = records.get(fake_lab.state, "fake-ready")["created"]
    run_phases(_ctx(fake_lab), ["fakephase"])
    assert [r["name"] for r in fake_lab.state.data.snapshots] == ["fake-ready"]
    assert records.get(fake_lab.state, "fake-ready")["created"] > first
    assert fake_lab.snapshots("overcloud-controller-0") == ["fake-ready"]


def test_settings_can_switch_automatic_snapshots_off(fake_lab: FakeLab, fake_phase):
    run_phases(_ctx(fake_lab, "settings.snapshots.auto=false"), ["fakephase"])
    assert fake_phase == ["fakephase"]
    assert fake_lab.state.data.snapshots == []
    assert fake_lab.snapshots("undercloud") == []


def test_a_hand_made_snapshot_of_the_same_name_is_kept(fake_lab: FakeLab, fake_phase):
    snapshot.create(fake_lab.state, "fake-ready")
    created = records.get(fake_lab.state, "fake-ready")["created"]
    run_phases(_ctx(fake_lab), ["fakephase"])
    assert records.get(fake_lab.state, "fake-ready")["created"] == created
    assert records.get(fake_lab.state, "fake-ready")["auto"] is False


def test_the_ffu_engine_marks_a_finished_release_and_a_rerun_finds_it(fake_lab: FakeLab):
    ctx = _ctx(fake_lab)
    fake_lab.state.update(config=ctx.resolved.to_dict())
    chain = ctx.resolved.config.release.ffu_chain
    fake_lab.state.mark_phase("ffu", "running")
    record = auto_snapshot(ctx, f"ffu-{chain[1]}", release=chain[1])
    assert record["ffu"] == {"release": chain[1], "step": records.DONE_STEP}
    assert newest_snapshot_at_or_before(fake_lab.state, chain[2], 1)["name"] == f"ffu-{chain[1]}"
    assert newest_snapshot_at_or_before(fake_lab.state, chain[1], 5) is None
    paused = fake_lab.state.data.ffu.paused
    assert len(paused) == 1 and record["paused"] == paused[0].model_dump(exclude_defaults=True)
    assert paused[0].start <= paused[0].end, "the FFU's poller learns when the lab was paused"


def test_cli_snapshot_create_list_revert_delete(fake_lab: FakeLab, capsys):
    workspace = str(fake_lab.state.workspace)
    assert cli.main(["snapshot", "create", "s1", "-w", workspace]) == 0
    assert "snapshot s1 taken" in capsys.readouterr().out
    assert cli.main(["snapshot", "list", "-w", workspace, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed["snapshots"]] == ["s1"]
    assert listed["snapshots"][0]["phase"] == "bmc"
    assert listed["overlays_bytes"] == 2 * 4096
    assert cli.main(["snapshot", "list", "-w", workspace]) == 0
    table = capsys.readouterr().out
    assert "s1" in table and "vm-state-size" in table
    assert cli.main(["snapshot", "revert", "s1", "-w", workspace]) == 0
    assert "lab back at s1" in capsys.readouterr().out
    assert cli.main(["snapshot", "delete", "s1", "-w", workspace]) == 0
    assert fake_lab.snapshots("undercloud") == []


def test_cli_revert_without_a_name_or_of_an_unknown_one_is_bad_usage(fake_lab: FakeLab, capsys):
    workspace = str(fake_lab.state.workspace)
    assert cli.main(["snapshot", "revert", "-w", workspace]) == 2
    assert cli.main(["snapshot", "revert", "nope", "-w", workspace]) == 2
    assert "no such snapshot" in capsys.readouterr().err


def test_run_from_snapshot_reverts_before_running_the_phases(fake_lab: FakeLab, fake_phase):
    snapshot.create(fake_lab.state, "s1")
    fake_lab.state.mark_phase("undercloud", "failed", error="boom")
    workspace = str(fake_lab.state.workspace)
    code = cli.main(["run", "-N", "1ctlr", "-w", workspace, "--from-snapshot", "s1", "-t", "config"])
    assert code == 0
    saved = json.loads((fake_lab.state.workspace / "state.json").read_text())
    assert "undercloud" not in saved["phases"], "the failed phase after the snapshot is forgotten"
    assert saved["phases"]["config"]["status"] == "done"
    assert saved["last_revert"]["snapshot"] == "s1"
