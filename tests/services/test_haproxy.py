"""haproxy: its configuration is valid, every API of the node answers through it on the node's ctlplane
address (from the virthost's netns, as clients reach it), and haproxy listens nowhere else."""

from __future__ import annotations

from urllib.parse import urlsplit

from ffulab.validate.netns_http import request

SERVICE = "haproxy"
UNIT = "haproxy.service"


def node_apis(lab, node: str) -> dict[str, str]:
    """The public URL of each API the node publishes: the services of its role that have an API."""
    return {service: url for service, url in lab.apis.items() if service in lab.services_of(node)}


def test_haproxy_runs_a_valid_configuration(host, node, unit_up):
    unit_up(UNIT)
    check = host.run("haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert check.rc == 0, f"/etc/haproxy/haproxy.cfg on {node} does not validate: {check.stderr}"


def test_every_api_of_the_node_answers_through_haproxy(lab, node):
    apis = node_apis(lab, node)
    assert apis, f"{node} runs haproxy but publishes no API"
    for service, url in apis.items():
        published = url.replace(urlsplit(url).hostname, lab.ctlplane_ip(node), 1)
        answer = request(lab.netns, "GET", published, timeout=60)
        assert 200 <= answer.status < 400, f"{service}: GET {published} through haproxy: HTTP {answer.status}"


def test_haproxy_listens_on_the_ctlplane_address_only(listening, lab, node):
    sockets = {(proto, address) for proto, address, names in listening if "haproxy" in names.split(",")}
    ports = {urlsplit(url).port for url in node_apis(lab, node).values()}
    wanted = {("tcp", f"{lab.ctlplane_ip(node)}:{port}") for port in ports}
    assert sockets == wanted, f"haproxy on {node} listens on {sorted(sockets)}, expected {sorted(wanted)}"
