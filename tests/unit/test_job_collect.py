"""logs/: per-node journal, configs and logs over SSH, the workspace's logs, every secret redacted."""

from __future__ import annotations

import io
import subprocess
import tarfile

from job_fakes import SECRET, fake_state, fake_workspace

from ffulab.catalog import Catalog
from ffulab.job import collect
from ffulab.paths import data_root
from ffulab.state import LabState


def _tar(members: dict[str, bytes | str]) -> bytes:
    """A tar.gz: bytes are files, a str is a symlink target."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _fake_ssh(monkeypatch, unreachable=()):
    calls = []
    node_tar = _tar(
        {
            "etc/keystone/keystone.conf": f"connection = mysql://keystone:{SECRET}@db/keystone\n".encode(),
            "etc/systemd/system/multi-user.target.wants/chrony.service": "/lib/systemd/system/chrony.service",
            "../escape.txt": b"outside",
            "var/log/mysql/error.log": b"\x00\xffbinary " + SECRET.encode() + b"\x00",
        }
    )

    def run(argv, **kwargs):
        node = argv[argv.index("ConnectTimeout=10") + 1]
        calls.append((node, argv[-1]))
        if node in unreachable:
            return subprocess.CompletedProcess(argv, 255, b"", b"ssh: connect to host: No route to host\n")
        if argv[-2:] == ["sh", "-s"]:
            assert b"--exclude='*-keys'" in kwargs["input"], "key directories are never copied"
            return subprocess.CompletedProcess(argv, 0, node_tar, b"")
        return subprocess.CompletedProcess(argv, 0, f"{node}: output of {argv[-1]} {SECRET}\n".encode(), b"")

    monkeypatch.setattr(collect.subprocess, "run", run)
    return calls


def _workspace(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    state = fake_state(workspace)
    fake_workspace(workspace, state)
    (workspace / "ssh.config.ansible").write_text("Host undercloud\n")
    return workspace, state


def test_every_node_gives_its_journal_configs_and_console_with_secrets_redacted(tmp_path, monkeypatch):
    workspace, state = _workspace(tmp_path)
    calls = _fake_ssh(monkeypatch)
    logs = tmp_path / "artifacts" / "logs"
    outcome = collect.collect_logs(
        workspace, LabState.model_validate(state), tmp_path / "artifacts", progress=lambda line: None
    )
    assert outcome["overcloud-controller-0"] == "2 config and log file(s), 4 command outputs"
    controller = logs / "overcloud-controller-0"
    assert (controller / "journal.txt").read_text().startswith("overcloud-controller-0: output of journalctl")
    assert "keystone:********@db" in (controller / "etc/keystone/keystone.conf").read_text()
    assert (controller / "var/log/mysql/error.log").read_bytes() == b"\x00\xffbinary ********\x00"
    assert not (controller / "etc/systemd/system/multi-user.target.wants/chrony.service").exists()
    assert not (tmp_path / "artifacts" / "escape.txt").exists() and not (logs / "escape.txt").exists()
    assert (logs / "undercloud" / "console.log").read_text() == "login:\n"
    assert {node for node, _ in calls} == {"undercloud", "overcloud-controller-0"}
    assert not any(SECRET.encode() in path.read_bytes() for path in logs.rglob("*") if path.is_file())


def test_the_workspace_logs_keep_the_run_log_and_the_ansible_output(tmp_path, monkeypatch):
    workspace, state = _workspace(tmp_path)
    _fake_ssh(monkeypatch)
    collect.collect_logs(
        workspace, LabState.model_validate(state), tmp_path / "artifacts", progress=lambda line: None
    )
    ffulab = tmp_path / "artifacts" / "logs" / "ffulab"
    assert (ffulab / "20261123-131619-job.log").read_text() == "deploy with password ********\n"
    assert (
        ffulab / "ansible" / "20261123-131828-overcloud.stdout.txt"
    ).read_text() == "TASK [x]\nok ********\n"


def test_a_node_that_does_not_answer_is_noted_and_the_others_collected(tmp_path, monkeypatch):
    workspace, state = _workspace(tmp_path)
    _fake_ssh(monkeypatch, unreachable={"overcloud-controller-0"})
    outcome = collect.collect_logs(
        workspace, LabState.model_validate(state), tmp_path / "artifacts", progress=lambda line: None
    )
    assert outcome["overcloud-controller-0"] == "not reachable: ssh: connect to host: No route to host"
    assert outcome["undercloud"].startswith("2 config and log file(s)")
    note = (tmp_path / "artifacts" / "logs" / "collect.txt").read_text()
    assert "overcloud-controller-0: not reachable" in note


def test_a_lab_without_nodes_yet_still_has_its_workspace_logs(tmp_path, monkeypatch):
    workspace, state = _workspace(tmp_path)
    del state["layout"]
    calls = _fake_ssh(monkeypatch)
    collect.collect_logs(
        workspace, LabState.model_validate(state), tmp_path / "artifacts", progress=lambda line: None
    )
    assert calls == []
    assert (tmp_path / "artifacts" / "logs" / "ffulab" / "20261123-131619-job.log").is_file()


def test_each_node_is_asked_for_its_own_services_paths():
    roles = {"Controller": {"services": ["timezone", "chrony", "mariadb", "keystone", "haproxy"]}}
    catalog = Catalog.load(data_root() / "roles")
    controller = collect.node_paths({"name": "overcloud-controller-0", "role": "Controller"}, roles, catalog)
    assert {"etc/keystone", "var/log/keystone", "etc/mysql", "var/log/mysql", "etc/haproxy"} <= set(
        controller
    )
    undercloud = collect.node_paths({"name": "undercloud", "role": "undercloud"}, roles, catalog)
    assert "srv/ffulab/mirror/index.json" in undercloud and "etc/keystone" not in undercloud


def test_a_longer_secret_is_redacted_whole_even_when_it_holds_a_shorter_one(tmp_path):
    (tmp_path / "f").write_text("abc123XYZ and abc123")
    assert collect.redact_tree(tmp_path, ["abc123", "abc123XYZ"]) == 1
    assert (tmp_path / "f").read_text() == "******** and ********"
