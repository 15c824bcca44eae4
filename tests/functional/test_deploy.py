"""keystone-only deployed at release N on 1ctlr (sandbox virthost, TCG): the undercloud's mirror,
a token through haproxy from the undercloud, the identity endpoints, keystone's version, a
second deploy that changes nothing, and ``ffulab validate`` (passing, then failing by name with
keystone stopped). ~12 min with cached image and artifacts; the lab is always
destroyed at the end.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_helpers import ffulab, state_of

pytestmark = pytest.mark.functional

PHASES = "virthost,image,provision,bmc,undercloud,overcloud"
STOPPED_KEYSTONE_REGEX = (
    r"^tempest\.api\.identity\.v3\.test_api_discovery\.TestApiDiscovery\.test_list_api_versions"
)
"""One Tempest test: with keystone stopped its class cannot even get credentials."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A keystone-only lab deployed at N with the idempotence check on; destroyed whatever happens."""
    workspace = tmp_path_factory.mktemp("deploy") / "lab"
    try:
        ffulab(
            "run", "-w", str(workspace), "-t", PHASES,
            "-e", "settings.snapshots.auto=false", "-e", "settings.deploy.idempotence=true",
            timeout=3600,
        )  # fmt: skip
        yield workspace
    finally:
        if (workspace / "state.json").exists():
            ffulab("destroy", "-w", str(workspace), check=False)


@pytest.fixture(scope="module")
def plan():
    return json.loads(ffulab("plan", "--json").stdout)


def on(workspace: Path, node: str, *command: str, timeout: float = 300) -> str:
    """Run ``command`` on a lab node as a user would: ``ffulab ssh -w WS NODE -- CMD``."""
    result = subprocess.run(
        [sys.executable, "-m", "ffulab", "ssh", "-w", str(workspace), node, "--", *command],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{node}: {' '.join(command)} exited {result.returncode}: {result.stderr}"
    return result.stdout


def openstack(workspace: Path, *args: str) -> list | dict:
    return json.loads(
        on(workspace, "undercloud", "openstack", "--os-cloud", "overcloud", *args, "-f", "json")
    )


def test_a_token_is_issued_through_haproxy_from_the_undercloud(lab):
    token = openstack(lab, "token", "issue")
    assert token["id"] and token["expires"] and token["project_id"]


def test_the_catalog_has_the_identity_endpoints_of_haproxy(lab):
    url = state_of(lab)["overcloud"]["keystone_url"]
    endpoints = openstack(lab, "endpoint", "list")
    identity = {e["Interface"]: e["URL"] for e in endpoints if e["Service Type"] == "identity"}
    assert identity == {"public": url, "internal": url, "admin": url}
    assert {e["Region"] for e in endpoints} == {"RegionOne"}
    services = openstack(lab, "service", "list")
    assert [(s["Name"], s["Type"]) for s in services] == [("keystone", "identity")]


def test_keystone_is_release_ns_version(lab, plan):
    release = plan["config"]["release"]["overcloud"]
    version = plan["config"]["series"][release]["services"]["keystone"]
    out = on(
        lab, "overcloud-controller-0", f"/opt/openstack/keystone-{version}/bin/keystone-manage", "--version"
    )
    assert out.split()[-1] == version
    running = on(lab, "overcloud-controller-0", "ps", "-o", "args=", "-u", "keystone")
    assert f"/opt/openstack/keystone-{version}/bin/gunicorn" in running, "the WSGI unit runs N's venv"


def test_a_second_deploy_changed_nothing(lab):
    overcloud = state_of(lab)["overcloud"]
    assert overcloud["changed"], "the first deploy changed something"
    assert overcloud["idempotence"]["changed"] == {}, f"changed on the second run: {overcloud['idempotence']}"


def test_overcloudrc_is_private_and_names_haproxy(lab):
    rc = lab / "overcloudrc"
    assert stat.S_IMODE(os.stat(rc).st_mode) == 0o600
    assert f"OS_AUTH_URL={state_of(lab)['overcloud']['keystone_url']}" in rc.read_text()


def test_the_mirror_is_served_on_the_ctlplane_address_only(lab):
    state = state_of(lab)
    url = state["undercloud"]["mirror"]["url"]
    address = url.removeprefix("http://")
    listening = on(lab, "undercloud", "ss", "-Hltn", "sport", "=", f":{address.rsplit(':', 1)[1]}")
    assert [line.split()[3] for line in listening.splitlines()] == [address]
    index = json.loads(on(lab, "overcloud-controller-0", "curl", "-fsS", f"{url}/index.json"))
    assert index == state["undercloud"]["mirror"]["index"]


def test_the_controller_keeps_time_from_the_undercloud(lab):
    undercloud_ip = state_of(lab)["undercloud"]["mirror"]["url"].split("//")[1].split(":")[0]
    sources = on(lab, "overcloud-controller-0", "chronyc", "-n", "sources")
    assert any(line.startswith("^") and undercloud_ip in line for line in sources.splitlines()), sources


def test_the_undercloud_phase_again_sends_and_changes_nothing(lab):
    ffulab("run", "-w", str(lab), "-t", "undercloud", "-e", "settings.snapshots.auto=false", timeout=900)
    undercloud = state_of(lab)["undercloud"]
    assert undercloud["sync"]["sent"] == [] and undercloud["changed"] == {}


@pytest.fixture(scope="module")
def validated(lab) -> dict:
    """``ffulab validate`` on the lab at N (the baseline run), with the job's Tempest tests."""
    result = ffulab("validate", "-w", str(lab), "--json", timeout=3600, check=False)
    assert result.returncode == 0, f"ffulab validate exited {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)


def test_validate_passes_on_the_deployed_lab(lab, validated):
    tempest, services = validated["tempest"], validated["services"]
    assert validated["ok"] and validated["release"] == state_of(lab)["overcloud"]["release"]
    assert tempest["failed"] == 0 and tempest["passed"] > 0, f"tempest: {tempest['results']}"
    assert services["failed"] == 0 and services["passed"] > 0, f"services: {services['results']}"
    artifacts = lab / "artifacts" / "validate" / "baseline"
    assert {path.name for path in artifacts.glob("junit-*.xml")} == {
        "junit-tempest.xml",
        "junit-services.xml",
    }
    assert state_of(lab)["validate"]["baseline"] == validated


def test_a_stopped_keystone_fails_the_named_check(lab, validated):
    """A broken lab: the check that says so fails, by name, with what is wrong; keystone comes back after."""
    on(lab, "overcloud-controller-0", "systemctl", "stop", "keystone.service")
    try:
        result = ffulab(
            "validate", "-w", str(lab), "--tempest-regex", STOPPED_KEYSTONE_REGEX, timeout=1800, check=False
        )
        assert result.returncode == 1, f"exit {result.returncode}: {result.stdout}{result.stderr}"
        named = "tests.services.test_keystone.test_the_unit_runs_the_release_venv[overcloud-controller-0]"
        assert f"failed: {named}" in result.stderr
        junit = (lab / "artifacts" / "validate" / "baseline" / "junit-services.xml").read_text()
        assert "keystone.service is not running on overcloud-controller-0" in junit
        recorded = state_of(lab)["validate"]["baseline"]
        assert recorded["ok"] is False and recorded["services"]["results"][named] == "failed"
    finally:
        on(lab, "overcloud-controller-0", "systemctl", "start", "keystone.service")
        wait_for_a_token(lab)


def wait_for_a_token(workspace: Path, timeout: float = 600) -> None:
    """keystone's worker imports keystone for a minute or more under TCG before it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(
            [sys.executable, "-m", "ffulab", "ssh", "-w", str(workspace), "undercloud", "--",
             "openstack", "--os-cloud", "overcloud", "token", "issue", "-f", "value", "-c", "id"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode == 0:
            return
        time.sleep(5)
    pytest.fail(f"keystone gave no token within {timeout:.0f} s of its restart")


def test_no_secret_reaches_the_logs(lab):
    secrets = json.loads((lab / "secrets.json").read_text()).values()
    logs = [path for path in (lab / "logs").rglob("*") if path.is_file()]
    leaked = [
        str(p.relative_to(lab)) for p in logs if any(s in p.read_text(errors="replace") for s in secrets)
    ]
    assert leaked == []
