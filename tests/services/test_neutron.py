"""neutron (ML2/OVN): its three units (the API under gunicorn, the OVN maintenance and periodic workers)
run the deployed release's venv, which holds the release's version; the schema is at the release's
expand and contract heads; the API worker has a live node in the OVN hash ring (else no OVN event, a
port up or a gateway bound, reaches neutron); through the API, every OVN chassis of the lab (the
ovn_host nodes) is an alive gateway agent and the lab's resources' router gateway is bound on one."""

from __future__ import annotations

import pytest
from conftest import alembic_versions, installed_version

from ffulab.validate.netns_http import request

SERVICE = "neutron"
UNITS = ("neutron-api.service", "neutron-ovn-maintenance-worker.service", "neutron-periodic-workers.service")
CONF = "/etc/neutron/neutron.conf"
MIGRATIONS = "lib/python3*/site-packages/neutron/db/migration/alembic_migrations/versions"


def sql(host, query: str):
    """``query`` in neutron's database on the node, with the credentials of neutron.conf read there (never
    on a command line)."""
    script = (
        f"url=$(sed -n 's/^connection *= *//p' {CONF} | head -n 1); "
        "rest=${url#*://}; credentials=${rest%@*}; where=${rest##*@}; "
        "user=${credentials%%:*}; export MYSQL_PWD=${credentials#*:}; "
        "server=${where%%/*}; database=${where#*/}; database=${database%%\\?*}; "
        f'mariadb --protocol=tcp -h "$server" -u "$user" -D "$database" -N -B -e "{query}"'
    )
    return host.run(script)


def test_the_units_run_the_release_venv(host, node, lab, unit_up):
    venv = lab.venv(SERVICE)
    for unit in UNITS:
        unit_up(unit)
        start = host.check_output(f"systemctl show -p ExecStart {unit}")
        assert f"{venv}/bin/" in start, f"{unit} on {node} does not start {venv}: {start}"
        pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
        cmdline = host.check_output(f"tr '\\0' ' ' < /proc/{pid}/cmdline")
        assert venv in cmdline or cmdline.startswith("gunicorn: master"), (
            f"{unit}'s main process on {node} is not from {venv}: {cmdline}"
        )


def test_the_venv_holds_the_release_version(host, node, lab):
    found = installed_version(host, lab.venv(SERVICE), "neutron")
    assert found == lab.version(SERVICE), f"{node}: neutron {found}, the lab is at {lab.version(SERVICE)}"


def test_the_database_schema_is_at_the_expand_and_contract_heads(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the schema is shared: checked on the first neutron node, where it is upgraded")
    versions = f"{lab.venv(SERVICE)}/{MIGRATIONS}"
    heads = set(host.check_output(f"cat {versions}/EXPAND_HEAD {versions}/CONTRACT_HEAD").split())
    query = alembic_versions(host, CONF)
    assert query.rc == 0, f"the neutron database does not answer: {query.stderr}"
    assert len(heads) == 2 and set(query.stdout.split()) == heads, (
        f"the neutron schema is at {sorted(query.stdout.split())}, neutron {lab.version(SERVICE)}'s "
        f"expand and contract heads are {sorted(heads)}"
    )


def test_the_api_worker_is_alive_in_the_ovn_hash_ring(host, node):
    query = sql(
        host,
        "SELECT COUNT(*) FROM ovn_hash_ring WHERE group_name = 'mechanism_driver' "
        "AND hostname = '$(uname -n)' AND updated_at > UTC_TIMESTAMP() - INTERVAL 120 SECOND",
    )
    assert query.rc == 0, f"the neutron database does not answer: {query.stderr}"
    assert int(query.stdout.strip() or 0) >= 1, (
        f"no node of {node} touched the OVN hash ring in the last 120 s: OVN events reach no API worker"
    )


def _network(lab, identity, path: str):
    answer = request(lab.netns, "GET", lab.apis[SERVICE].rstrip("/") + "/v2.0" + path,
                     headers={"X-Auth-Token": identity.token})  # fmt: skip
    assert answer.status == 200, f"GET {path}: HTTP {answer.status} {answer.body}"
    return answer.body


def test_every_ovn_chassis_is_an_alive_gateway_agent(lab, identity, node):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the agents are the lab's: checked once")
    chassis = lab.nodes_running("ovn_host")
    agents = _network(lab, identity, "/agents")["agents"]
    gateways = {a["host"]: a for a in agents if a["agent_type"] == "OVN Controller Gateway agent"}
    for name in chassis:
        assert name in gateways, (
            f"{name} is not an OVN gateway agent: {[(a['agent_type'], a['host']) for a in agents]}"
        )
        assert gateways[name]["alive"], f"the OVN gateway agent of {name} is not alive"


def test_the_router_gateway_is_bound_on_a_gateway_chassis(lab, identity, node):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the router is the lab's: checked once")
    routers = _network(lab, identity, "/routers?name=ffulab-router")["routers"]
    if not routers:
        pytest.skip("the lab's resources made no router ffulab-router")
    ports = _network(
        lab, identity, f"/ports?device_id={routers[0]['id']}&device_owner=network:router_gateway"
    )
    bound = [(p["status"], p["binding:host_id"]) for p in ports["ports"]]
    assert len(bound) == 1 and bound[0][0] == "ACTIVE" and bound[0][1] in lab.nodes_running("ovn_host"), (
        f"the router's gateway port is {bound}, expected ACTIVE on one of {lab.nodes_running('ovn_host')}"
    )
