"""Every API service of the lab (roles/<svc>/ffulab.yml: api): its WSGI server listens on loopback only
(haproxy publishes it) on the nodes that run the load balancer, and not at all on the others (a compute
runs nova's other half), and all but identity are registered in the identity catalog with their
endpoints at the URL the catalog declares."""

from __future__ import annotations

from ffulab.deploy.extravars import api_urls

SERVICE = None  # every overcloud node
INTERFACES = {"public", "internal", "admin"}


def test_each_api_of_the_node_listens_on_loopback_only(listening, lab, node):
    services = lab.services_of(node)
    published = any("loadbalancer" in lab.catalog[name].provides for name in services)
    for name in services:
        api = lab.catalog[name].api
        if api is None:
            continue
        sockets = {
            (proto, address) for proto, address, _ in listening if address.rsplit(":", 1)[-1] == str(api.port)
        }
        if not published:  # no load balancer here: the service's other half runs here (nova-compute)
            assert not sockets, f"{name} on {node}: port {api.port} bound at {sorted(sockets)}, unpublished"
            continue
        wanted = {("tcp", f"127.0.0.1:{api.port}"), ("tcp", f"{lab.ctlplane_ip(node)}:{api.port}")}
        assert sockets <= wanted and ("tcp", f"127.0.0.1:{api.port}") in sockets, (
            f"{name} on {node}: port {api.port} bound at {sorted(sockets)}, expected loopback (and haproxy)"
        )


def test_each_registered_api_is_in_the_catalog_at_its_endpoint(identity, lab, node):
    if node != lab.nodes()[0]["name"]:
        return  # the catalog is the lab's: checked once
    services = identity.get("/services").body["services"]
    for name in lab.config_services():
        entry = lab.catalog[name]
        if entry.api is None or "identity" in entry.provides:
            continue
        host = lab.ctlplane_ip(lab.first_node_running(name))
        endpoint = api_urls(entry, host)["endpoint"]
        found = [s for s in services if s["type"] == entry.api.type and s["name"] == name]
        assert len(found) == 1 and found[0]["enabled"], f"{name} ({entry.api.type}) registered as {found}"
        endpoints = identity.get(f"/endpoints?service_id={found[0]['id']}").body["endpoints"]
        have = {(e["interface"], e["url"], e["region_id"], e["enabled"]) for e in endpoints}
        assert have == {(interface, endpoint, "RegionOne", True) for interface in INTERFACES}, (
            f"{name} endpoints {sorted(have)}, expected {endpoint} on {sorted(INTERFACES)}"
        )
