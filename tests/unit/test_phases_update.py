"""The minor update at N: the older point release deployed first, its artifact on the mirror, then N's
pins node by node, the versions read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_fakes import fake_index, lab

from ffulab.artifacts import plan_artifacts
from ffulab.context import Context
from ffulab.deploy.extravars import deploy_extravars
from ffulab.phases import update as phase
from ffulab.state import OvercloudRecord, State

JOB = "ffu-keystone-only-update"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch) -> Context:
    resolved, layout = lab(tmp_path, job=JOB)
    state = State.open(tmp_path / "ws", resolved.config.lab.name)
    overcloud = OvercloudRecord(release="2025.1", versions={"keystone": "27.0.0"}, apis={})
    state.update(
        layout=layout.to_dict(), undercloud={"mirror": {"index": fake_index(resolved)}}, overcloud=overcloud
    )
    return Context(resolved=resolved, state=state, workspace=tmp_path / "ws")


def test_the_mirror_gets_the_older_point_release_beside_ns_own(tmp_path):
    resolved, _ = lab(tmp_path, job=JOB)
    at_n = [(r.name, r.version, r.lock is not None) for r in plan_artifacts(resolved) if r.series == "2025.1"]
    assert ("keystone", "27.1.0", True) in at_n and ("keystone", "27.0.0", False) in at_n


def test_n_deploys_at_the_older_point_release_until_the_update_is_done(ctx: Context, monkeypatch):
    assert deploy_extravars(ctx)["artifacts"]["2025.1"]["keystone"]["version"] == "27.0.0"
    calls = []
    monkeypatch.setattr(
        phase,
        "deploy",
        lambda ctx, ev, label, limit: calls.append((limit, ev["artifacts"]["2025.1"]["keystone"]["version"])),
    )
    monkeypatch.setattr(phase, "lab_versions", lambda ctx: {"keystone": "27.1.0"})
    monkeypatch.setattr(phase, "verify_if_created", lambda ctx, label: 0)
    phase.run(ctx)
    assert calls == [("overcloud-controller-0,undercloud", "27.1.0")]
    record = ctx.state.data.update
    assert (record.status, record.before, record.after) == (
        "done",
        {"keystone": "27.0.0"},
        {"keystone": "27.1.0"},
    )
    assert deploy_extravars(ctx)["artifacts"]["2025.1"]["keystone"]["version"] == "27.1.0"
    assert ctx.state.data.overcloud.versions == {"keystone": "27.1.0"}


def test_without_update_from_there_is_nothing_to_update(tmp_path):
    resolved, _ = lab(tmp_path)
    state = State.open(tmp_path / "ws", resolved.config.lab.name)
    lines: list[str] = []
    phase.run(Context(resolved=resolved, state=state, workspace=tmp_path / "ws", progress=lines.append))
    assert state.data.update is None and "no minor update" in lines[0]
