"""nova: each unit of the node (the control plane's three, or nova-compute) runs the deployed release's
venv, which holds the release's version; nova_api, nova (cell1) and nova_cell0 are at the release's
alembic heads; every nova-compute is up and enabled through the API; a compute's libvirt runs and its
virt_type is what the node's KVM probe found."""

from __future__ import annotations

import pytest
from conftest import alembic_heads, installed_version, unit_runs_venv

from ffulab.validate.netns_http import request

SERVICE = "nova"
UNITS = ("nova-conductor.service", "nova-scheduler.service", "nova-api.service", "nova-compute.service")
MIGRATIONS = {"nova_api": "api", "nova": "main", "nova_cell0": "main"}
"""Database -> nova's alembic tree for it (nova/db/<tree>/migrations/versions)."""


def units_of(host) -> list[str]:
    return [unit for unit in UNITS if host.file(f"/etc/systemd/system/{unit}").exists]


def test_the_units_run_the_release_venv(host, node, lab, unit_up):
    units = units_of(host)
    assert units, f"{node} runs nova but has none of its units"
    for unit in units:
        unit_up(unit)
        unit_runs_venv(host, node, unit, lab.venv(SERVICE), SERVICE)


def test_the_venv_holds_the_release_version(host, node, lab):
    found = installed_version(host, lab.venv(SERVICE), "nova")
    assert found == lab.version(SERVICE), f"{node}: nova {found}, the lab is at {lab.version(SERVICE)}"


@pytest.mark.parametrize("database", sorted(MIGRATIONS))
def test_each_database_schema_is_at_head(host, node, lab, database):
    if node != lab.first_node_running(SERVICE) or "nova-api.service" not in units_of(host):
        pytest.skip("the schemas are shared: checked on the first control node, where the syncs run")
    heads = alembic_heads(
        host,
        f"{lab.venv(SERVICE)}/lib/python3*/site-packages/nova/db/{MIGRATIONS[database]}/migrations/versions",
    )
    # the credentials of [api_database]'s URL (the node reads them from nova.conf: never on a command line)
    query = host.run(
        "url=$(sed -n 's/^connection *= *//p' /etc/nova/nova.conf | head -n 1); rest=${url#*://}; "
        "credentials=${rest%@*}; where=${rest##*@}; export MYSQL_PWD=${credentials#*:}; "
        'mariadb --protocol=tcp -h "${where%%/*}" -u "${credentials%%:*}" -D ' + database + " -N -B "
        '-e "SELECT version_num FROM alembic_version ORDER BY 1"'
    )
    assert query.rc == 0, f"the {database} database does not answer: {query.stderr}"
    assert heads and set(query.stdout.split()) == heads, (
        f"{database} is at {sorted(query.stdout.split())}, "
        f"nova {lab.version(SERVICE)}'s heads are {sorted(heads)}"
    )


def test_every_compute_service_is_up_and_enabled(lab, identity):
    answer = request(
        lab.netns,
        "GET",
        lab.apis[SERVICE].rstrip("/") + "/os-services?binary=nova-compute",
        headers={"X-Auth-Token": identity.token},
    )
    assert answer.status == 200, f"GET /os-services: HTTP {answer.status} {answer.body}"
    services = answer.body["services"]
    assert services, "no nova-compute service registered"
    down = [
        f"{s['host']} {s['state']}/{s['status']}"
        for s in services
        if (s["state"], s["status"]) != ("up", "enabled")
    ]
    assert not down, f"nova-compute services not up and enabled: {down}"


def test_a_compute_runs_libvirt_with_the_probed_virt_type(host, node):
    if "nova-compute.service" not in units_of(host):
        pytest.skip("not a compute")
    assert host.service("libvirtd.service").is_running, f"{node}: libvirtd is not running"
    probed = host.file("/var/lib/nova/ffulab-virt-type").content_string.strip()
    assert probed in ("kvm", "qemu"), f"{node}: the KVM probe left {probed!r}"
    conf = host.run("sed -n 's/^virt_type *= *//p' /etc/nova/nova.conf").stdout.strip()
    assert conf == probed, f"{node}: nova.conf says virt_type {conf}, the node's probe found {probed}"
    if probed == "kvm":
        assert host.run("test -c /dev/kvm").rc == 0, f"{node}: virt_type kvm without /dev/kvm"
