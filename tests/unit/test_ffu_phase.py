"""The ffu phase on a fake lab: the plan it builds, what it records before, during and after."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from deploy_fakes import fake_index, lab

from ffulab.context import Context
from ffulab.errors import PhaseError
from ffulab.phases import ffu as phase
from ffulab.state import OvercloudRecord, State


class FakePoller:
    path = Path("downtime.jsonl")
    urls: ClassVar[dict[str, str]] = {
        "identity": "http://192.0.2.10:5000/v3",
        "image": "http://192.0.2.10:9292/",
    }

    def stop(self):
        identity = [{"t": 1.0, "ok": True}, {"t": 2.0, "ok": False}, {"t": 4.0, "ok": True}]
        image = [{"t": 1.0, "ok": False}, {"t": 2.0, "ok": True}, {"t": 4.0, "ok": True}]
        return [{**s, "api": "identity"} for s in identity] + [{**s, "api": "image"} for s in image]


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch) -> Context:
    resolved, layout = lab(tmp_path)
    workspace = tmp_path / "ws"
    state = State.open(workspace, resolved.config.lab.name)
    state.update(
        layout=layout.to_dict(),
        undercloud={"mirror": {"index": fake_index(resolved)}},
        overcloud=OvercloudRecord(
            release="2024.1",
            versions={"keystone": "25.0.0"},
            identity_url=FakePoller.urls["identity"],
            apis=FakePoller.urls,
        ),
    )
    monkeypatch.setattr(phase.downtime.Poller, "start", classmethod(lambda cls, *a: FakePoller()))
    monkeypatch.setattr(phase, "lab_virthost", lambda ctx: None)
    monkeypatch.setattr(phase, "lab_versions", lambda ctx: {"keystone": "28.1.0"})
    monkeypatch.setattr("ffulab.snapshot.auto_snapshot", lambda ctx, name, **kw: None)
    return Context(resolved=resolved, state=state, workspace=workspace)


def test_the_plan_follows_the_lab(ctx: Context):
    plan = phase.build_plan(ctx)
    assert plan.chain == ["2024.1", "2024.2", "2025.1", "2025.2"]
    assert list(plan.role_nodes) == ["Controller"]
    assert set(plan.active_steps) == {2, 3, 4, 6, 7, 8, 9}, "steps 1 and 5: no service of keystone-only acts"
    variables = plan.extravars("2025.1")
    assert variables["release"] == "2025.1" and variables["versions"]["keystone"] == "27.1.0"
    assert set(variables["ffu_services"]) == {"keystone", "haproxy", "chrony", "mariadb"}
    assert variables["ffulab_backups_dir"] == str(ctx.workspace / "backups"), "step 4's dumps stay in the lab"
    assert not any("artifacts" in str(value) for value in variables.values()), "nothing goes to the artifacts"


def test_a_run_records_before_after_downtime_and_every_step(ctx: Context, monkeypatch):
    calls = []
    monkeypatch.setattr(
        phase, "run_playbook", lambda ws, playbook, ev, progress, limit, label: calls.append(label)
    )
    phase.run(ctx)
    ffu = ctx.state.data.ffu
    assert ffu.status == "done"
    assert ffu.before.versions == {"keystone": "25.0.0"}
    assert ffu.after.release == "2025.2"
    assert ctx.state.data.overcloud.versions["keystone"] == "28.1.0"
    assert {api: record.seconds for api, record in ffu.downtime.items()} == {"identity": 2.0, "image": 1.0}
    assert "ffu-2024.2-step1" not in calls and "ffu-2024.2-step2" in calls
    assert calls[-2:] == ["ffu-2025.2-final", "ffu-2025.2-checks"]
    assert ffu.steps["2024.2/1"].status == "nothing to do"


def test_a_failed_step_keeps_the_downtime_and_names_the_rerun(ctx: Context, monkeypatch):
    from ffulab.errors import FfulabError

    def run_playbook(ws, playbook, ev, progress, limit, label):
        if label == "ffu-2024.2-step6":
            raise FfulabError("task 'Keystone script' failed on overcloud-controller-0: exit 1")

    monkeypatch.setattr(phase, "run_playbook", run_playbook)
    collected = []
    monkeypatch.setattr(
        "ffulab.job.collect.collect_logs", lambda ws, state, dest, progress: collected.append(dest)
    )
    with pytest.raises(PhaseError, match=r"--from-release 2024\.2 --from-step 6"):
        phase.run(ctx)
    assert collected == [ctx.workspace / "artifacts"], "the failed step's logs are collected"
    ffu = ctx.state.data.ffu
    assert (ffu.release, ffu.step, ffu.status) == ("2024.2", 6, "failed")
    assert ffu.downtime["identity"].windows, "what the poller saw is kept after a failure"
    assert ctx.state.data.overcloud.release == "2024.1"


def test_the_ffu_needs_a_deployed_overcloud(ctx: Context):
    ctx.state.update(overcloud=OvercloudRecord())
    with pytest.raises(PhaseError, match="not deployed"):
        phase.run(ctx)


def test_the_rollback_drill_stops_after_step_4_restores_n_and_resets_the_ffu(ctx: Context, monkeypatch):
    calls = []

    def run_playbook(ws, playbook, ev, progress, limit=None, label=None):
        calls.append((playbook, label, ev.get("backup_release"), ev["release"]))

    monkeypatch.setattr(phase, "run_playbook", run_playbook)
    monkeypatch.setattr("ffulab.ffu.rollback.run_playbook", run_playbook)
    ctx.options["rollback_drill"] = True
    phase.run(ctx)
    assert calls[-2][1] == "ffu-2024.2-step4"
    assert calls[-1] == ("rollback.yml", "rollback-to-2024.1", "2024.2", "2024.1")
    ffu = ctx.state.data.ffu
    assert ffu.rollback_drill.status == "done"
    assert "2024.2/4" in ffu.rollback_drill.steps
    assert not ffu.steps and ffu.release is None, "the next run upgrades from step 1"
    assert ffu.rollback_drill.downtime["identity"].windows and not ffu.downtime, (
        "the drill's outage is its own"
    )
    assert ctx.state.data.overcloud.release == "2024.1"


def test_the_job_setting_drills_then_upgrades_in_one_phase(ctx: Context, monkeypatch):
    labels = []
    monkeypatch.setattr(
        phase, "run_playbook", lambda ws, pb, ev, progress, limit, label: labels.append(label)
    )
    monkeypatch.setattr(
        "ffulab.ffu.rollback.run_playbook", lambda ws, pb, ev, progress, label: labels.append(label)
    )
    ctx.resolved.config.settings.ffu.rollback_drill = True
    phase.run(ctx)
    assert labels.index("rollback-to-2024.1") < labels.index("ffu-2025.2-final")
    assert labels.count("ffu-2024.2-step4") == 2
    assert ctx.state.data.ffu.status == "done"


def test_an_intermediate_releases_snapshot_goes_once_the_next_one_is_taken(ctx: Context, monkeypatch):
    taken, dropped = [], []

    def auto_snapshot(ctx, name, **kw):
        taken.append(name)
        ctx.state.data.snapshots.append({"name": name, "auto": True, "status": "complete"})
        return {"name": name}

    monkeypatch.setattr("ffulab.snapshot.auto_snapshot", auto_snapshot)
    monkeypatch.setattr("ffulab.snapshot.lab.delete", lambda state, name, progress: dropped.append(name))
    monkeypatch.setattr(phase, "run_playbook", lambda ws, pb, ev, progress, limit, label: None)
    phase.run(ctx)
    assert [name for name in taken if name != "ffu-step"] == [
        "ffu-ready",
        "ffu-2024.2",
        "ffu-2025.1",
        "ffu-2025.2",
    ]
    assert taken.count("ffu-step") == 15, (
        "the rolling snapshot before each step that does work (a run, not a job)"
    )
    assert dropped == ["ffu-2024.2", "ffu-2025.1"], "ffu-ready and the newest stay"


def test_the_poller_gets_each_apis_poll_url_and_a_lab_recorded_without_them_its_url(
    ctx: Context, monkeypatch
):
    started = []
    monkeypatch.setattr(
        phase.downtime.Poller,
        "start",
        classmethod(lambda cls, vh, urls, *a: started.append(urls) or FakePoller()),
    )
    monkeypatch.setattr(phase, "run_playbook", lambda ws, playbook, ev, progress, limit, label: None)
    ctx.state.data.overcloud.polls = {"image": "http://192.0.2.10:9292/healthcheck"}
    phase.run(ctx)
    assert started == [
        {"identity": FakePoller.urls["identity"], "image": "http://192.0.2.10:9292/healthcheck"}
    ]


@pytest.mark.parametrize(
    ("verified", "again"),
    [
        (None, True),
        ({"release": "2025.2", "failed": ["nova server ffulab-workload: FAILED uptime"]}, True),
        ({"release": "2025.1", "failed": []}, True),
        ({"release": "2025.2", "failed": []}, False),
    ],
    ids=["never", "failed", "older release", "passed"],
)
def test_a_done_ffu_is_verified_again_until_it_passed(ctx: Context, monkeypatch, verified, again):
    monkeypatch.setattr(phase, "run_playbook", lambda *a, **kw: None)
    ctx.state.data.ffu.status = "done"
    ctx.state.data.resources.verified = verified
    verifications = []
    monkeypatch.setattr(phase, "verify_if_created", lambda ctx, label: verifications.append(label))
    phase.run(ctx)
    assert verifications == (["resources-verify-2025.2"] if again else [])
