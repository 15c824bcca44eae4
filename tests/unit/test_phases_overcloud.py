"""Phase overcloud on a fake lab: what it records (versions read from the nodes, APIs), idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_fakes import fake_index, lab

from ffulab.context import Context
from ffulab.deploy.ansible import PlaybookResult
from ffulab.errors import PhaseError
from ffulab.phases import overcloud as phase
from ffulab.state import State


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch) -> Context:
    resolved, layout = lab(tmp_path)
    workspace = tmp_path / "ws"
    state = State.open(workspace, resolved.config.lab.name)
    state.update(layout=layout.to_dict(), undercloud={"mirror": {"index": fake_index(resolved)}})
    monkeypatch.setattr(phase, "lab_versions", lambda ctx: {"keystone": "25.0.0"})
    return Context(resolved=resolved, state=state, workspace=workspace)


def playbooks(changed: list[dict[str, int]]):
    runs = iter(changed)

    def run_playbook(workspace, playbook, extravars, progress, limit=None, label=None):
        return PlaybookResult(playbook, "successful", 1.5, Path("log"), changed=next(runs))

    return run_playbook


def test_the_record_holds_what_the_nodes_run_and_every_api(ctx: Context, monkeypatch):
    monkeypatch.setattr(
        phase, "run_playbook", playbooks([{"overcloud-controller-0": 7, "undercloud": 1}, {}])
    )
    phase.run(ctx)
    record = State.load(ctx.workspace).data.overcloud
    assert record.release == "2024.1" and record.versions == {"keystone": "25.0.0"}
    assert set(record.apis) == {"keystone"} and record.apis["keystone"] == record.identity_url
    assert record.changed == {"overcloud-controller-0": 7, "undercloud": 1}
    assert record.idempotence["changed"] == {}
    assert (ctx.workspace / "overcloudrc").stat().st_mode & 0o777 == 0o600


def test_a_second_deploy_that_changes_something_fails_naming_the_rerun(ctx: Context, monkeypatch):
    monkeypatch.setattr(
        phase, "run_playbook", playbooks([{"overcloud-controller-0": 7}, {"overcloud-controller-0": 1}])
    )
    with pytest.raises(PhaseError, match="not idempotent"):
        phase.run(ctx)


def test_the_record_keeps_what_the_poller_gets_beside_each_api(tmp_path: Path, monkeypatch):
    """cinder's /v3 answers 401 without a token: the poller must GET its /healthcheck instead, or
    cinder counts as down for the whole FFU and after it."""
    resolved, layout = lab(tmp_path, job="ffu-cinder")
    workspace = tmp_path / "ws"
    state = State.open(workspace, resolved.config.lab.name)
    state.update(layout=layout.to_dict(), undercloud={"mirror": {"index": fake_index(resolved)}})
    monkeypatch.setattr(phase, "lab_versions", lambda ctx: {"keystone": "25.0.0", "cinder": "24.5.0"})
    monkeypatch.setattr(phase, "run_playbook", playbooks([{}, {}]))
    phase.run(Context(resolved=resolved, state=state, workspace=workspace))
    record = State.load(workspace).data.overcloud
    host = layout.node("overcloud-controller-0").ctlplane_ip
    assert record.apis["cinder"] == f"http://{host}:8776/v3"
    assert record.poll_urls() == {
        "cinder": f"http://{host}:8776/healthcheck",
        "keystone": record.apis["keystone"],
    }, "an API without its own poll URL is polled at its URL"
