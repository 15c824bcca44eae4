"""haproxy: its configuration is valid, every API of the node answers through it on the node's ctlplane
address (from the virthost's netns, as clients reach it), and haproxy listens nowhere else."""

from __future__ import annotations

from urllib.parse import urlsplit

from ffulab.deploy.extravars import api_urls
from ffulab.validate.netns_http import request

SERVICE = "haproxy"
UNIT = "haproxy.service"


def node_apis(lab, node: str) -> dict[str, str]:
    """Each API the node publishes (the services of its role that have an API, recorded by the deploy),
    at the URL that answers without a token on the node's address: its poll URL (cinder's /v3 wants a
    token, its /healthcheck does not)."""
    return {
        service: api_urls(lab.catalog[service], lab.ctlplane_ip(node))["poll"]
        for service in lab.apis
        if service in lab.services_of(node)
    }


def test_haproxy_runs_a_valid_configuration(host, node, unit_up):
    unit_up(UNIT)
    check = host.run("haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert check.rc == 0, f"/etc/haproxy/haproxy.cfg on {node} does not validate: {check.stderr}"


def test_every_api_of_the_node_answers_through_haproxy(lab, node):
    apis = node_apis(lab, node)
    assert apis, f"{node} runs haproxy but publishes no API"
    for service, url in apis.items():
        answer = request(lab.netns, "GET", url, timeout=60)
        assert 200 <= answer.status < 400, f"{service}: GET {url} through haproxy: HTTP {answer.status}"


def test_haproxy_listens_on_the_ctlplane_address_only(listening, lab, node):
    sockets = {(proto, address) for proto, address, names in listening if "haproxy" in names.split(",")}
    ports = {urlsplit(url).port for url in node_apis(lab, node).values()}
    wanted = {("tcp", f"{lab.ctlplane_ip(node)}:{port}") for port in ports}
    assert sockets == wanted, f"haproxy on {node} listens on {sorted(sockets)}, expected {sorted(wanted)}"
