"""Phase resources and verify_resources on a fake lab: the lines read, the variables given, the state kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deploy_fakes import fake_index, lab

from ffulab.catalog import Catalog
from ffulab.config.resolve import resolve
from ffulab.context import Context
from ffulab.deploy import ansible
from ffulab.deploy import resources as resources_phase
from ffulab.deploy.ansible import PlaybookFailed, PlaybookResult
from ffulab.deploy.extravars import log_safe
from ffulab.deploy.resources import Item, parse_items, resource_services, verify_resources
from ffulab.errors import ConfigError, FfulabError
from ffulab.paths import data_root
from ffulab.phases import resources as resources_run
from ffulab.state import OvercloudRecord, State

CREATED = """ffulab-step: keystoneauth import 8.911
ffulab-resource: domain ffulab-domain created
ffulab-changed: keystone domain ffulab-domain created
ffulab-resource: project ffulab-project ok
ffulab-resource: role_assignment ffulab-alice/ffulab-project/member created
ffulab-done
"""
BROKEN = """ffulab-resource: domain ffulab-domain ok\r
ffulab-resource: user ffulab-bob MISSING not found\r
ffulab-resource: token ffulab-alice@ffulab-project FAILED token without role(s) member: has reader\r
"""


def result(stdout: str, role: str = "keystone") -> PlaybookResult:
    run = PlaybookResult("resources.yml", "successful", 12.5, Path("/ws/logs/ansible/x/stdout"))
    run.outputs.append({"host": "undercloud", "role": role, "task": "Keystone resources", "stdout": stdout})
    return run


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    resolved, layout = lab(tmp_path)
    workspace = tmp_path / "ws"
    state = State.open(workspace, resolved.config.lab.name)
    state.update(
        layout=layout.to_dict(),
        undercloud={"mirror": {"index": fake_index(resolved)}},
        overcloud=OvercloudRecord(release="2024.1"),
    )
    return Context(resolved=resolved, state=state, workspace=workspace)


class FakePlaybook:
    """run_playbook as the resources phase calls it: records the variables, prints ``stdout``."""

    def __init__(self, stdout: str, fail: bool = False):
        self.stdout, self.fail, self.calls = stdout, fail, []

    def __call__(self, workspace, playbook, extravars, progress, label):
        self.calls.append({"playbook": playbook, "label": label, **extravars})
        run = result(self.stdout)
        if self.fail:
            run.status = "failed"
            run.failures.append({"host": "undercloud", "task": "Keystone resources", "msg": "exit 1"})
            raise PlaybookFailed(run)
        return run


def test_resource_lines_are_read_with_the_service_that_printed_them():
    items = parse_items(result(CREATED)) + parse_items(result(BROKEN))
    assert items[0] == Item("keystone", "domain", "ffulab-domain", "created")
    assert [item.status for item in items] == ["created", "ok", "created", "ok", "MISSING", "FAILED"]
    assert items[4].describe() == "keystone user ffulab-bob: MISSING not found"
    assert items[5].why == "token without role(s) member: has reader", "no carriage return kept"
    assert [item.ok for item in items[3:]] == [True, False, False]


def test_keystone_makes_resources_and_the_base_services_do_not():
    catalog = resolve().catalog
    assert catalog["keystone"].resources
    assert not any(catalog[name].resources for name in ("mariadb", "haproxy", "chrony", "timezone"))


def test_only_services_of_the_lab_with_resources_are_passed():
    assert resource_services(resolve().config, resolve().catalog) == ["keystone"]
    minimal = resolve(job="ffu-minimal")
    assert resource_services(minimal.config, minimal.catalog) == []


def test_resources_is_optional_and_off_by_default(tmp_path: Path):
    role = tmp_path / "svc"
    role.mkdir()
    (role / "ffulab.yml").write_text(yaml.safe_dump({"kind": "system", "summary": "s", "deploy": "d"}))
    assert not Catalog.load(tmp_path)["svc"].resources
    (role / "ffulab.yml").write_text(
        yaml.safe_dump({"kind": "system", "summary": "s", "deploy": "d", "resources": 1})
    )
    assert Catalog.load(tmp_path)["svc"].resources
    (role / "ffulab.yml").write_text(
        yaml.safe_dump({"kind": "system", "summary": "s", "deploy": "d", "resources": "x"})
    )
    with pytest.raises(ConfigError, match=r"roles/svc/ffulab.yml: resources: "):
        Catalog.load(tmp_path)


def test_every_role_with_resources_has_the_task_files_the_playbook_includes():
    roles = data_root() / "roles"
    for service, spec in Catalog.load(roles).items():
        for action in ("create", "verify"):
            tasks = roles / service / "tasks" / f"resources_{action}.yml"
            assert tasks.is_file() == spec.resources, (
                f"roles/{service}/ffulab.yml says resources: {spec.resources}"
            )


def test_create_passes_the_action_the_services_and_a_stable_seed_per_lab(ctx: Context, monkeypatch):
    playbook = FakePlaybook(CREATED)
    monkeypatch.setattr(resources_phase, "run_playbook", playbook)
    resources_run.run(ctx)
    resources_run.run(ctx)
    first, again = playbook.calls
    assert first["playbook"] == "resources.yml" and first["label"] == "resources-create"
    assert first["resources_action"] == "create" and first["resources_services"] == ["keystone"]
    assert first["resources_passwords"] == again["resources_passwords"], "a rerun must find the same users"
    assert len(first["resources_passwords"]["keystone"]) >= 24
    assert first["openstackclient"]["venv"] == "/opt/openstack/openstackclient-10.2.1"
    assert first["identity"]["url"].endswith(":5000/v3") and first["identity"]["admin_password"]
    assert log_safe(ctx.workspace, first)["resources_passwords"]["keystone"] == "********"


def test_create_records_what_was_made_and_at_which_release(ctx: Context, monkeypatch):
    monkeypatch.setattr(resources_phase, "run_playbook", FakePlaybook(CREATED))
    resources_run.run(ctx)
    record = ctx.state.data.resources
    assert record.created[0] == {"service": "keystone", "kind": "domain", "name": "ffulab-domain"}
    assert len(record.created) == 3 and record.created_at == "2024.1"
    assert record.seconds >= 0
    assert json.loads(ctx.state.path.read_text())["resources"] == record.model_dump(), "written to state.json"


def test_a_failed_item_fails_create_and_names_it(ctx: Context, monkeypatch):
    monkeypatch.setattr(resources_phase, "run_playbook", FakePlaybook(BROKEN, fail=True))
    with pytest.raises(
        FfulabError, match=r"2 of 3 item\(s\) failed: keystone user ffulab-bob: MISSING"
    ) as exc:
        resources_run.run(ctx)
    assert f"ffulab run -t resources -w {ctx.workspace}" in str(exc.value)
    assert ctx.state.data.resources.created == [
        {"service": "keystone", "kind": "domain", "name": "ffulab-domain"}
    ], "only what is there"


def test_verify_records_the_release_the_lab_is_at(ctx: Context, monkeypatch):
    playbook = FakePlaybook(CREATED)
    monkeypatch.setattr(resources_phase, "run_playbook", playbook)
    resources_run.run(ctx)
    ctx.state.update(overcloud=OvercloudRecord(release="2025.2"))
    verified = verify_resources(ctx, label="resources-verify-2025.2")
    assert playbook.calls[-1]["resources_action"] == "verify"
    assert playbook.calls[-1]["label"] == "resources-verify-2025.2"
    assert playbook.calls[0]["release"] == "2024.1" and playbook.calls[-1]["release"] == "2025.2", (
        "the scripts get the release the lab runs (nova boots a new server at the last one)"
    )
    assert verified == ctx.state.data.resources.verified
    assert (verified["release"], verified["items"], verified["ok"], verified["failed"]) == (
        "2025.2",
        3,
        3,
        [],
    )
    assert ctx.state.data.resources.created_at == "2024.1", "create's record is kept"


def test_verify_fails_naming_every_failed_item_and_keeps_the_record(ctx: Context, monkeypatch):
    monkeypatch.setattr(resources_phase, "run_playbook", FakePlaybook(BROKEN, fail=True))
    with pytest.raises(FfulabError) as exc:
        verify_resources(ctx, label="resources-verify-2025.2")
    message = str(exc.value)
    assert "resources verify: 2 of 3 item(s) failed" in message
    assert "keystone user ffulab-bob: MISSING not found" in message
    assert "keystone token ffulab-alice@ffulab-project: FAILED token without role(s) member" in message
    assert "full Ansible log: /ws/logs/ansible/x/stdout" in message
    assert f"rerun with: ffulab ffu -w {ctx.workspace} --from-release 2024.2 --from-step 1" in message
    verified = ctx.state.data.resources.verified
    assert (verified["items"], verified["ok"], len(verified["failed"])) == (3, 1, 2)


def test_a_playbook_failing_for_another_reason_than_an_item_raises_as_it_is(ctx: Context, monkeypatch):
    monkeypatch.setattr(resources_phase, "run_playbook", FakePlaybook("Traceback...", fail=True))
    with pytest.raises(PlaybookFailed, match="exit 1"):
        verify_resources(ctx, label="resources-verify-2025.2")


def test_a_lab_without_resources_runs_no_playbook(tmp_path: Path, monkeypatch):
    resolved, _ = lab(tmp_path, job="ffu-minimal")
    state = State.open(tmp_path / "ws", resolved.config.lab.name)
    ctx = Context(resolved=resolved, state=state, workspace=tmp_path / "ws")
    playbook = FakePlaybook(CREATED)
    monkeypatch.setattr(resources_phase, "run_playbook", playbook)
    resources_run.run(ctx)
    assert playbook.calls == [] and ctx.state.data.resources.created == []
    assert verify_resources(ctx, label="v")["items"] == 0


def test_run_playbook_keeps_what_scripts_printed_even_when_they_failed(tmp_path: Path, monkeypatch):
    def event(kind: str, task: str, res: dict) -> dict:
        return {"event": kind, "event_data": {"host": "u", "role": "keystone", "task": task, "res": res}}

    events = [
        event("runner_on_ok", "A", {"stdout": "ffulab-resource: domain d ok\n"}),
        event("runner_on_failed", "B", {"rc": 1, "stdout": "ffulab-resource: user u MISSING x"}),
        event("runner_on_ok", "C", {"changed": False}),
    ]

    def fake_run(**kwargs):
        for event in events:
            kwargs["event_handler"](event)
        (tmp_path / "logs" / "ansible" / kwargs["ident"]).mkdir(parents=True)
        return type("Runner", (), {"status": "failed"})()

    monkeypatch.setattr("ansible_runner.run", fake_run)
    with pytest.raises(PlaybookFailed) as exc:
        ansible.run_playbook(tmp_path, "resources.yml", {}, lambda line: None, label="resources-verify")
    outputs = exc.value.result.outputs
    assert [(o["role"], o["task"]) for o in outputs] == [("keystone", "A"), ("keystone", "B")]
    assert [item.status for item in parse_items(exc.value.result)] == ["ok", "MISSING"]
