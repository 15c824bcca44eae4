"""haproxy: its configuration is valid, the keystone frontend answers on the node's ctlplane address
(from the virthost's netns, as clients reach it), and haproxy listens nowhere else."""

from __future__ import annotations

from ffulab.validate.netns_http import request

SERVICE = "haproxy"
UNIT = "haproxy.service"
KEYSTONE_PORT = 5000


def test_haproxy_runs_a_valid_configuration(host, node, unit_up):
    unit_up(UNIT)
    check = host.run("haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert check.rc == 0, f"/etc/haproxy/haproxy.cfg on {node} does not validate: {check.stderr}"


def test_the_keystone_frontend_answers(lab, node):
    url = f"http://{lab.ctlplane_ip(node)}:{KEYSTONE_PORT}/v3"
    answer = request(lab.netns, "GET", url, timeout=60)
    assert answer.status == 200, f"GET {url} through haproxy on {node}: HTTP {answer.status} {answer.body}"
    version = answer.body["version"]
    assert version["status"] == "stable" and version["id"].startswith("v3."), f"{url} answers {version}"


def test_haproxy_listens_on_the_ctlplane_address_only(listening, lab, node):
    sockets = {(proto, address) for proto, address, names in listening if "haproxy" in names.split(",")}
    wanted = {("tcp", f"{lab.ctlplane_ip(node)}:{KEYSTONE_PORT}")}
    assert sockets == wanted, f"haproxy on {node} listens on {sorted(sockets)}, expected {sorted(wanted)}"
