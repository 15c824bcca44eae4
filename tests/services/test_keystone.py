"""keystone: the unit runs the deployed release's venv and reports its version, the identity service
and its endpoints are registered, and the database schema is at the release's head (that its WSGI server
listens on loopback only, as every API's, is tests/services/test_apis.py's)."""

from __future__ import annotations

import pytest
from conftest import alembic_versions

SERVICE = "keystone"
UNIT = "keystone.service"
INTERFACES = {"public", "internal", "admin"}


def keystone_manage(host, venv: str, *args: str):
    """``keystone-manage`` as keystone runs it (tens of seconds under TCG: Python imports keystone)."""
    return host.run(f"runuser -u keystone -- {venv}/bin/keystone-manage " + " ".join(args))


def test_the_unit_runs_the_release_venv(host, node, lab, unit_up):
    venv = lab.venv(SERVICE)
    unit_up(UNIT)
    assert f"{venv}/bin/gunicorn" in host.check_output(f"systemctl show -p ExecStart {UNIT}"), (
        f"{UNIT} on {node} does not start {venv} ({lab.release})"
    )
    running = [process.args for process in host.process.filter(user="keystone") if "gunicorn" in process.args]
    assert running, f"no keystone gunicorn process on {node}"
    assert all(args.startswith(f"{venv}/bin/python {venv}/bin/gunicorn") for args in running), (
        f"keystone processes on {node} are not all from {venv}: {running}"
    )


def test_keystone_reports_the_release_version(host, node, lab):
    result = keystone_manage(host, lab.venv(SERVICE), "--version")
    assert result.rc == 0, f"keystone-manage --version on {node} exited {result.rc}: {result.stderr}"
    reported = result.stdout.split()[-1] if result.stdout.split() else "(nothing)"
    assert reported == lab.version(SERVICE), (
        f"{node} reports keystone {reported}, release {lab.release} is {lab.version(SERVICE)}"
    )


def test_the_database_schema_is_at_head(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the schema is shared: checked on the first keystone node, where db_sync runs")
    venv = lab.venv(SERVICE)
    check = keystone_manage(host, venv, "db_sync", "--check")
    assert check.rc == 0, (
        f"keystone-manage db_sync --check on {node} exited {check.rc} (2: expand, 3: migrate, "
        f"4: contract pending): {check.stdout.strip()} {check.stderr.strip()[-500:]}"
    )
    # db_sync --check has said "up to date" before an expand (keystone 24, 25, 28): compare heads too
    versions = f"{venv}/lib/python3*/site-packages/keystone/common/sql/migrations/versions"
    heads = set(host.check_output(f"cat {versions}/EXPAND_HEAD {versions}/CONTRACT_HEAD").split())
    query = alembic_versions(host, "/etc/keystone/keystone.conf")
    assert query.rc == 0, f"the keystone database does not answer: {query.stderr}"
    assert set(query.stdout.split()) == heads, (
        f"the keystone schema is at {sorted(query.stdout.split())}, keystone {lab.version(SERVICE)}'s "
        f"heads are {sorted(heads)}"
    )


def test_the_identity_service_and_its_endpoints_are_registered(identity, lab):
    url = lab.overcloud["identity_url"]
    services = identity.get("/services").body["services"]
    keystone = [s for s in services if s["type"] == "identity"]
    assert [(s["name"], s["enabled"]) for s in keystone] == [("keystone", True)], (
        f"identity services registered: {keystone}"
    )
    endpoints = identity.get(f"/endpoints?service_id={keystone[0]['id']}").body["endpoints"]
    found = {(e["interface"], e["url"], e["region_id"], e["enabled"]) for e in endpoints}
    wanted = {(interface, url, "RegionOne", True) for interface in INTERFACES}
    assert found == wanted, f"identity endpoints {sorted(found)}, expected {sorted(wanted)}"
