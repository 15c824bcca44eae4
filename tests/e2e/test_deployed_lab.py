"""CI's job's lab after the job (at N+3): the undercloud's mirror, a token through haproxy
from the undercloud, the identity endpoints, keystone's version, the deploy at N that changed
nothing the second time, validation at N and N+3, and ``ffulab validate`` failing by name with
keystone stopped (restarted after). Runs on the e2e session's lab: one lab for the whole tier.
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
from conftest import CI_JOB

from ffulab.config.resolve import resolve

pytestmark = pytest.mark.e2e

STOPPED_KEYSTONE_REGEX = (
    r"^tempest\.api\.identity\.v3\.test_api_discovery\.TestApiDiscovery\.test_list_api_versions"
)
"""One Tempest test: with keystone stopped its class cannot even get credentials."""


@pytest.fixture(scope="module")
def lab(job):
    if job.returncode != 0:
        pytest.skip("the job failed: its lab is not one to check")
    return job.workspace


def state_of(workspace: Path) -> dict:
    return json.loads((workspace / "state.json").read_text())


def ffulab(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "ffulab", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"ffulab {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


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
    url = state_of(lab)["overcloud"]["identity_url"]
    endpoints = openstack(lab, "endpoint", "list")
    identity = {e["Interface"]: e["URL"] for e in endpoints if e["Service Type"] == "identity"}
    assert identity == {"public": url, "internal": url, "admin": url}
    assert {e["Region"] for e in endpoints} == {"RegionOne"}
    services = openstack(lab, "service", "list")
    assert [s["Name"] for s in services if s["Type"] == "identity"] == ["keystone"]


def test_keystone_is_n_plus_3s_version(lab):
    state = state_of(lab)
    release = state["ffu"]["chain"][-1]
    version = resolve(job=CI_JOB).config.series[release].services["keystone"]
    assert state["overcloud"]["versions"]["keystone"] == version
    out = on(
        lab, "overcloud-controller-0", f"/opt/openstack/keystone-{version}/bin/keystone-manage", "--version"
    )
    assert out.split()[-1] == version
    running = on(lab, "overcloud-controller-0", "ps", "-o", "args=", "-u", "keystone")
    assert f"/opt/openstack/keystone-{version}/bin/gunicorn" in running, "the WSGI unit runs N+3's venv"


def test_a_second_deploy_changed_nothing(lab):
    overcloud = state_of(lab)["overcloud"]
    assert overcloud["changed"], "the first deploy changed something"
    assert overcloud["idempotence"]["changed"] == {}, f"changed on the second run: {overcloud['idempotence']}"


def test_overcloudrc_is_private_and_names_haproxy(lab):
    rc = lab / "overcloudrc"
    assert stat.S_IMODE(os.stat(rc).st_mode) == 0o600
    assert f"OS_AUTH_URL={state_of(lab)['overcloud']['identity_url']}" in rc.read_text()


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


@pytest.mark.parametrize("label", ["baseline", "final"])
def test_validation_passed_at_n_and_at_n_plus_3(lab, label):
    validated = state_of(lab)["validate"][label]
    tempest, services = validated["tempest"], validated["services"]
    chain = state_of(lab)["ffu"]["chain"]
    assert validated["ok"] and validated["release"] == (chain[0] if label == "baseline" else chain[-1])
    assert tempest["failed"] == 0 and tempest["passed"] > 0, f"tempest: {tempest['results']}"
    assert services["failed"] == 0 and services["passed"] > 0, f"services: {services['results']}"
    assert {Path(validated[kind]["junit"]).name for kind in ("tempest", "services")} == {
        "junit-tempest.xml",
        "junit-services.xml",
    }


def test_a_stopped_keystone_fails_the_named_check(lab):
    """A broken lab: the check that says so fails, by name, with what is wrong; keystone comes back after."""
    on(lab, "overcloud-controller-0", "systemctl", "stop", "keystone.service")
    try:
        result = ffulab(
            "validate", "-w", str(lab), "--tempest-regex", STOPPED_KEYSTONE_REGEX, timeout=1800, check=False
        )
        assert result.returncode == 1, f"exit {result.returncode}: {result.stdout}{result.stderr}"
        named = "tests.services.test_keystone.test_the_unit_runs_the_release_venv[overcloud-controller-0]"
        assert f"failed: {named}" in result.stderr
        recorded = state_of(lab)["validate"]["final"]
        junit = Path(recorded["services"]["junit"]).read_text()
        assert "keystone.service is not running on overcloud-controller-0" in junit
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


CREDENTIAL_FILES = ("secrets.json", "id_ed25519", "overcloudrc", "instackenv.json")
"""What holds the lab's credentials on purpose (0600): the secrets themselves, the SSH key, the admin's
rc file (TripleO leaves one) and the BMCs' inventory (TripleO's instackenv.json has pm_password)."""
CREDENTIAL_DIRS = ("disks", "vbmc")
"""The guests' disks (their services' configs) and vbmcd's own config (each BMC's password)."""


def secret_values(workspace: Path) -> list[str]:
    values = list(json.loads((workspace / "secrets.json").read_text()).values())
    key = (workspace / "id_ed25519").read_text().splitlines()
    return values + [line for line in key if len(line) >= 16 and "PRIVATE" not in line]


def leaks(root: Path, secrets: list[str], skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or path.is_symlink() or relative.parts[0] in skip or str(relative) in skip:
            continue
        data = path.read_bytes()
        found += [f"{relative}: {secrets.index(s)}" for s in secrets if s.encode() in data]
    return found


def test_no_secret_in_any_file_of_the_workspace_or_the_artifacts(lab, job):
    """After the job and a validation that failed (keystone stopped): every file ffulab wrote, logs,
    state, JUnit, Tempest's log, summary, report, holds no generated secret and no line of the key."""
    secrets = secret_values(lab)
    assert secrets
    assert leaks(lab, secrets, CREDENTIAL_FILES + CREDENTIAL_DIRS) == []
    assert leaks(job.artifacts, secrets) == []
    for name in CREDENTIAL_FILES:
        path = lab / name
        assert not path.exists() or stat.S_IMODE(path.stat().st_mode) == 0o600, f"{name} is not 0600"


def test_a_narrower_tempest_regex_passes_comparing_only_what_ran_both_times(lab):
    result = ffulab(
        "validate", "-w", str(lab), "--tempest-regex", r"^tempest\.api\.identity\.v3\.test_tokens\.",
        timeout=3600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    final = state_of(lab)["validate"]["final"]
    assert final["tempest"]["passed"] > 0 and final["not_run"], "the baseline's other tests are 'not run'"
