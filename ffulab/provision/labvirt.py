"""The lab's virthost and libvirt facts other phases share (subnets in use)."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

from ffulab.errors import FfulabError
from ffulab.proc import run
from ffulab.state import State
from ffulab.virthost import from_record


def lab_virthost(ctx_or_state):
    """The virthost recorded in the lab's state by the virthost phase."""
    state: State = getattr(ctx_or_state, "state", ctx_or_state)
    record = state.data.virthost
    if not record:
        raise FfulabError("the lab has no virthost yet: run the 'virthost' phase first (-t virthost)")
    return from_record(record)


def routed_subnets(virthost) -> list[str]:
    """IPv4 subnets the virthost's side of the lab already routes (host networks, other bridges)."""
    result = run(virthost.wrap(["ip", "-4", "-o", "route", "show"]), check=False)
    subnets = []
    for line in result.stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first and first != "default":
            subnets.append(str(ipaddress.ip_network(first if "/" in first else f"{first}/32", strict=False)))
    return subnets


def existing_subnets(conn) -> list[str]:
    """Every IPv4 subnet of every libvirt network on this connection, active or not."""
    subnets = []
    for net in conn.listAllNetworks():
        for ip in ET.fromstring(net.XMLDesc()).findall("ip"):
            address, mask = ip.get("address"), ip.get("netmask") or ip.get("prefix")
            if address and mask and ip.get("family", "ipv4") == "ipv4":
                subnets.append(str(ipaddress.ip_network(f"{address}/{mask}", strict=False)))
    return subnets
