"""The cinder role's scripts as the nodes get them (test_deploy_roles.py renders them the way Ansible
does): valid bash, here-documents closed, no secret on a command line; each FFU step's part does only
its part; the deploy's order and addresses; the resources' runner stages and data steps."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from test_deploy_roles import ROLES, build_lab_variables, render, secret_on_a_command_line, with_defaults

ACTIONS = ("deploy", "stop", "mirror", "install", "configure", "db_sync", "check")
"""cinder.sh.j2's actions: deploy, and the FFU steps' parts (roles/cinder/defaults: cinder_ffu_actions)."""
SEED = "ResourcesSeedcinder0123456789ab"


@pytest.fixture(scope="module")
def cinder_variables(tmp_path_factory):
    """The cinder-only lab's variables (keystone, RabbitMQ, cinder), the resources' seed of cinder."""
    variables = build_lab_variables(tmp_path_factory.mktemp("ws"), job="ffu-cinder")
    variables["undercloud"]["resources_passwords"] = {
        **variables["undercloud"]["resources_passwords"],
        "cinder": SEED,
    }
    return variables


def cinder_scripts(variables: dict, release: str = "2024.2"):
    """(what, text) of every script the cinder role runs: its actions on the controller, its resources
    (the runner's stages on the undercloud) and its data steps on the volume node."""
    controller = {**variables["overcloud-controller-0"], "release": release}
    for action in ACTIONS:
        host = with_defaults("cinder", {**controller, "ffulab_action": action})
        yield f"cinder {action}", render("cinder", "cinder.sh.j2", host)
    undercloud = with_defaults("cinder", variables["undercloud"])
    for action, stage in (("create", "volumes"), ("create", "snapshots"), ("verify", "all")):
        spec = {**undercloud["cinder_resources_spec"], "stage": stage}
        host = {
            **undercloud,
            "ffulab_script": "cinder",
            "ffulab_action": action,
            "ffulab_resources_spec": spec,
        }
        yield (
            f"cinder resources {action} {stage}",
            render("cinder", "../common/templates/resources.sh.j2", host),
        )
    for action in ("write", "clones", "verify"):
        host = {**undercloud, "cinder_data_action": action}
        yield f"cinder data {action}", render("cinder", "cinder_data.sh.j2", host)


def commands_of(text: str) -> str:
    """The role's own command lines: the embedded ffulab-lib.sh and comments left out."""
    lib = (ROLES / "common" / "files" / "ffulab-lib.sh").read_text().rstrip("\n")
    own = text.split(lib, 1)[-1]
    return "\n".join(line for line in own.splitlines() if not line.lstrip().startswith("#"))


def secrets_of(variables: dict) -> list[str]:
    host = variables["overcloud-controller-0"]
    secrets = [host["identity"]["admin_password"], SEED]
    for service in ("cinder", "rabbitmq"):
        secrets += [value for value in host["secrets"][service].values() if isinstance(value, str)]
    return secrets


@pytest.mark.parametrize("release", ["2024.1", "2025.2"])
def test_cinder_scripts_are_valid_bash_and_keep_secrets_off_command_lines(cinder_variables, release):
    secrets = secrets_of(cinder_variables)
    for what, text in cinder_scripts(cinder_variables, release):
        check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
        assert check.returncode == 0 and not check.stderr, f"{what}: {check.stderr}"
        assert text.rstrip().endswith("ffulab_done"), f"{what}: the last line must be ffulab_done"
        lines = text.splitlines()
        opened = sum("<<'FFULAB_EOF'" in line or "<<FFULAB_EOF" in line for line in lines)
        assert lines.count("FFULAB_EOF") == opened, f"{what}: a here-document is not closed on its own line"
        assert not secret_on_a_command_line(text, secrets), f"{what}: a secret on a command line"


def test_the_resources_runner_compiles_and_gets_its_stage(cinder_variables):
    for what, text in cinder_scripts(cinder_variables):
        if " resources " not in what:
            continue
        spec_text, program = (part.split("\nFFULAB_EOF\n")[0] for part in text.split("<<'FFULAB_EOF'\n")[1:3])
        compile(program, what, "exec")
        spec = json.loads(spec_text)
        assert spec["stage"] == what.split()[-1] and spec["host"] == "overcloud-controller-0@lvm"
        assert spec["cinder_url"].endswith(":8776/v3") and str(spec["microversion"]) == "3.67"
        assert spec["seed"] == SEED and "def items(spec: dict, create: bool)" in program


@pytest.mark.parametrize("action", ACTIONS[1:])
def test_each_ffu_part_does_only_its_part(cinder_variables, action):
    commands = commands_of(dict(cinder_scripts(cinder_variables))[f"cinder {action}"])
    assert "/opt/openstack/cinder-25.3.1" in commands
    assert ("ffulab_units_stopped cinder-api.service" in commands) == (action == "stop")
    assert ("/2024.2/cinder-25.3.1.tar.zst" in commands) == (action in ("mirror", "install"))
    assert ("ffulab_venv " in commands) == (action == "install")
    assert ("/etc/cinder/rootwrap.conf 644" in commands) == (action == "configure")
    assert ("manage db sync --bump-versions" in commands) == (action == "db_sync")
    assert ("manage db online_data_migrations" in commands) == (action == "db_sync")
    assert ('cinder-status" --config-file' in commands) == (action == "check")
    assert "ffulab_unit_active" not in commands and "vgcreate" not in commands, "the FFU never starts cinder"


def test_the_deploy_syncs_before_starting_the_units_in_cinders_order(cinder_variables):
    commands = commands_of(dict(cinder_scripts(cinder_variables))["cinder deploy"])
    host = cinder_variables["overcloud-controller-0"]
    ctlplane, rabbit = host["ctlplane_ip"], host["providers"]["messaging"]["host"]
    assert commands.index("manage db sync --bump-versions") < commands.index("for unit in cinder-scheduler")
    assert "for unit in cinder-scheduler.service cinder-volume.service cinder-api.service" in commands
    assert f"tgtd -f --iscsi portal={ctlplane}:3260" in commands
    assert f"target_ip_address = {ctlplane}" in commands and "\nhost = overcloud-controller-0\n" in commands
    assert "volume_clear = none" in commands and "lvm_type = thin" in commands
    password = host["secrets"]["rabbitmq"]["password"]
    assert f"transport_url = rabbit://ffulab:{password}@{rabbit}:5672/" in commands
    assert f"ffulab_identity_register cinder block-storage http://{ctlplane}:8776/v3 " in commands
    assert f"ffulab_identity_service cinderv3 volumev3 http://{ctlplane}:8776/v3" in commands
    assert f"ffulab_answers http://{ctlplane}:8776/healthcheck" in commands
    assert 'sys.argv = [sys.argv[0], "--config-file", "/etc/cinder/cinder.conf"]' in commands
    assert (
        "cinder ALL = (root) NOPASSWD: /usr/local/bin/cinder-rootwrap /etc/cinder/rootwrap.conf *" in commands
    )
    assert "exec_dirs=$venv/bin," in commands


def test_the_data_steps_write_only_the_volumes_holding_their_own_data(cinder_variables):
    scripts = dict(cinder_scripts(cinder_variables))
    calls = {
        action: re.findall(r"^check (\S+) (\S+) ([01])$", scripts[f"cinder data {action}"], re.MULTILINE)
        for action in ("write", "clones", "verify")
    }
    assert calls["write"] == [("ffulab-vol-a", "ffulab-vol-a", "1"), ("ffulab-vol-b", "ffulab-vol-b", "1")]
    assert calls["clones"] == [("ffulab-vol-from-snap", "ffulab-vol-a", "0")]
    assert calls["verify"] == [
        ("ffulab-vol-a", "ffulab-vol-a", "0"),
        ("ffulab-vol-b", "ffulab-vol-b", "0"),
        ("ffulab-vol-from-snap", "ffulab-vol-a", "0"),
    ]


@pytest.mark.skipif(not __import__("shutil").which("sha256sum"), reason="needs coreutils")
def test_the_data_pattern_is_the_same_bytes_at_write_and_at_verify(tmp_path):
    """The pattern function of the data script, run twice with the same volume, gives the same sha256;
    another volume's pattern differs."""
    script = (ROLES / "cinder" / "templates" / "cinder_data.sh.j2").read_text()
    function = re.search(r"^pattern\(\) \{\n.*?\n\}$", script, re.MULTILINE | re.DOTALL)
    assert function
    program = "\n".join(["set -euo pipefail", "mib=2", function.group(0)])
    sums = [
        subprocess.run(
            ["bash", "-c", f"{program}\npattern {name} {vid} | sha256sum"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for name, vid in (("a", "1"), ("a", "1"), ("a", "2"))
    ]
    assert sums[0] == sums[1] != sums[2]
    size = subprocess.run(["bash", "-c", f"{program}\npattern a 1 | wc -c"], capture_output=True, text=True)
    assert size.stdout.strip() == str(2 * 1048576)


@pytest.fixture
def cinder_class(monkeypatch):
    """The resources script's Cinder class as the runner composes it (common runner + cinder's items),
    keystoneauth stubbed: the dev venv has none, and these tests call no API."""
    import sys
    import types

    for name in ("keystoneauth1", "keystoneauth1.session", "keystoneauth1.identity"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["keystoneauth1"].session = sys.modules["keystoneauth1.session"]
    sys.modules["keystoneauth1"].identity = sys.modules["keystoneauth1.identity"]
    sys.modules["keystoneauth1.session"].Session = object
    sys.modules["keystoneauth1.identity"].v3 = None
    program = "\n".join(
        (ROLES / path).read_text()
        for path in ("common/files/ffulab_resources.py", "cinder/files/cinder_resources.py")
    )
    namespace: dict = {"__name__": "cinder_resources"}
    exec(compile(program, "cinder_resources", "exec"), namespace)
    return namespace


def _cinder(namespace: dict, create: bool, found: dict):
    """A Cinder whose API has one item ``found`` (volume or snapshot) and records the calls made."""
    cinder = namespace["Cinder"].__new__(namespace["Cinder"])
    cinder.spec, cinder.create, cinder.calls = {"host": "ctl@lvm"}, create, []
    cinder.find = lambda kind, name: found
    cinder.wanted = lambda kind, name: {"id": "v1", "size": 1}
    cinder.call = lambda method, path, body=None: cinder.calls.append((method, path, body)) or {}
    return cinder


VOLUME = {
    "id": "v1",
    "status": "available",
    "size": 1,
    "volume_type": "__DEFAULT__",
    "os-vol-host-attr:host": "ctl@lvm#lvm",
    "description": "old",
    "bootable": "false",
    "metadata": {"a": "1"},
}
ENTRY = {"name": "vol", "size": 1, "description": "new", "bootable": True, "metadata": {"a": "2"}}


def test_a_volume_that_differs_fails_its_verification_and_is_mended_by_create(cinder_class):
    verify = _cinder(cinder_class, create=False, found=dict(VOLUME))
    with pytest.raises(cinder_class["Failed"], match="description is 'old', expected 'new'"):
        verify.volume(ENTRY)
    assert verify.calls == []
    create = _cinder(cinder_class, create=True, found=dict(VOLUME))
    assert create.volume(ENTRY) == "updated"
    assert create.calls == [
        ("POST", "/volumes/v1/metadata", {"metadata": {"a": "2"}}),
        ("PUT", "/volumes/v1", {"volume": {"description": "new"}}),
        ("POST", "/volumes/v1/action", {"os-set_bootable": {"bootable": True}}),
    ]
    same = {**VOLUME, "description": "new", "bootable": "true", "metadata": {"a": "2"}}
    assert _cinder(cinder_class, create=False, found=same).volume(ENTRY) == "ok"


def test_a_snapshot_with_other_metadata_fails_its_verification_and_is_mended_by_create(cinder_class):
    snapshot = {"id": "s1", "status": "available", "volume_id": "v1", "size": 1, "description": "d"}
    entry = {"name": "snap", "volume": "vol", "description": "d", "metadata": {"k": "v"}}
    with pytest.raises(cinder_class["Failed"], match="metadata: k is None, expected 'v'"):
        _cinder(cinder_class, create=False, found={**snapshot, "metadata": {}}).snapshot(entry)
    create = _cinder(cinder_class, create=True, found={**snapshot, "metadata": {}})
    assert create.snapshot(entry) == "updated"
    assert create.calls == [("POST", "/snapshots/s1/metadata", {"metadata": {"k": "v"}})]
