"""OVN central: the northbound and southbound databases listen on the node's ctlplane address only and
answer there; ovn-northd runs (it turns the northbound database into the southbound one)."""

from __future__ import annotations

SERVICE = "ovn_central"
PORTS = {"6641": "northbound", "6642": "southbound"}


def test_the_databases_listen_on_the_ctlplane_address_only(listening, lab, node):
    for port, name in PORTS.items():
        bound = {
            address for proto, address, _ in listening if proto == "tcp" and address.endswith(f":{port}")
        }
        assert bound == {f"{lab.ctlplane_ip(node)}:{port}"}, (
            f"OVN's {name} database on {node} listens at {sorted(bound)}, expected the ctlplane address only"
        )


def test_the_databases_answer_and_northd_runs(host, lab, node, unit_up):
    unit_up("ovn-central.service")
    for unit in ("ovn-ovsdb-server-nb.service", "ovn-ovsdb-server-sb.service", "ovn-northd.service"):
        assert host.service(unit).is_running, f"{unit} is not running on {node}"
    ip = lab.ctlplane_ip(node)
    for tool, port in (("ovn-nbctl", "6641"), ("ovn-sbctl", "6642")):
        answer = host.run(f"{tool} --timeout=20 --db=tcp:{ip}:{port} show")
        assert answer.rc == 0, f"{tool} at tcp:{ip}:{port} on {node}: {answer.stderr}"
    status = host.run("ovn-appctl -t ovn-northd status")
    assert status.rc == 0 and "active" in status.stdout, (
        f"ovn-northd on {node}: {status.stdout} {status.stderr}"
    )
