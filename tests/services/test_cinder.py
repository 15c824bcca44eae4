"""cinder: cinder-api, -scheduler and -volume run the deployed release's venv, which holds the release's
version; the database schema is at that release's alembic head; the scheduler and volume services are
up and enabled (the API's os-services, through haproxy); the volume group and its thin pool are on the
loop device the boot unit attaches; tgt's iSCSI portal listens on the ctlplane address only."""

from __future__ import annotations

import pytest
from conftest import alembic_heads, alembic_versions, installed_version, unit_runs_venv

from ffulab.validate.netns_http import request

SERVICE = "cinder"
UNITS = ("cinder-scheduler.service", "cinder-volume.service", "cinder-api.service")
VOLUME_GROUP = "cinder-volumes"
BACKEND = "lvm"
ISCSI_PORT = 3260
MICROVERSION = "volume 3.67"


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_run_the_release_venv(host, node, lab, unit_up, unit):
    unit_up(unit)
    unit_runs_venv(host, node, unit, lab.venv(SERVICE), SERVICE)


def test_the_venv_holds_the_release_version(host, node, lab):
    found = installed_version(host, lab.venv(SERVICE), "cinder")
    assert found == lab.version(SERVICE), f"{node}: cinder {found}, the lab is at {lab.version(SERVICE)}"


def test_the_database_schema_is_at_head(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the schema is shared: checked on the first cinder node, where db sync runs")
    heads = alembic_heads(
        host, f"{lab.venv(SERVICE)}/lib/python3*/site-packages/cinder/db/migrations/versions"
    )
    query = alembic_versions(host, "/etc/cinder/cinder.conf")
    assert query.rc == 0, f"the cinder database does not answer: {query.stderr}"
    assert heads and set(query.stdout.split()) == heads, (
        f"the cinder schema is at {sorted(query.stdout.split())}, cinder {lab.version(SERVICE)}'s "
        f"heads are {sorted(heads)}"
    )


def test_the_scheduler_and_volume_services_are_up(identity, lab, node):
    """cinder's [DEFAULT] host is the node's name: the scheduler's row is <node>, the volume's <node>@lvm."""
    url = lab.apis[SERVICE].rstrip("/") + "/os-services"
    headers = {"X-Auth-Token": identity.token, "OpenStack-API-Version": MICROVERSION}
    answer = request(lab.netns, "GET", url, headers=headers)
    assert answer.status == 200, f"GET {url}: HTTP {answer.status} {answer.body}"
    rows = {(s["binary"], s["host"]): (s["state"], s["status"]) for s in answer.body["services"]}
    for row in (("cinder-scheduler", node), ("cinder-volume", f"{node}@{BACKEND}")):
        assert rows.get(row) == ("up", "enabled"), f"{row[0]} {row[1]}: {rows.get(row)}; all rows: {rows}"


def test_the_volume_group_and_its_thin_pool_are_on_the_boot_time_loop_device(host, node, unit_up):
    unit_up("cinder-volumes-loop.service")
    devices = host.check_output(f"pvs --noheadings -o pv_name -S vg_name={VOLUME_GROUP}").split()
    assert devices and all(device.startswith("/dev/loop") for device in devices), (
        f"{VOLUME_GROUP} on {node} is on {devices or 'no physical volume'}, expected a loop device"
    )
    pools = host.check_output(f"lvs --noheadings -o lv_name -S 'lv_attr=~^t' {VOLUME_GROUP}").split()
    assert pools, f"{VOLUME_GROUP} on {node} has no thin pool (cinder-volume makes it at start)"


def test_the_iscsi_target_listens_on_the_ctlplane_address_only(listening, lab, node, unit_up):
    unit_up("tgt.service")
    sockets = {(proto, address) for proto, address, _ in listening if address.endswith(f":{ISCSI_PORT}")}
    wanted = {("tcp", f"{lab.ctlplane_ip(node)}:{ISCSI_PORT}")}
    assert sockets == wanted, f"iSCSI on {node} listens on {sorted(sockets)}, expected {sorted(wanted)}"
    assert any(
        "tgtd" in names.split(",") for _, address, names in listening if address.endswith(f":{ISCSI_PORT}")
    )
