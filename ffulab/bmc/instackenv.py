"""``instackenv.json`` in TripleO's format: how a deployment node finds and powers its nodes."""

from __future__ import annotations

from typing import Any

from ffulab.provision.layout import Layout

FIRST_BMC_PORT = 6230


def bmc_ports(layout: Layout) -> dict[str, int]:
    """One IPMI port per overcloud node, in layout order (6230, 6231, ...).

    Ports repeat across labs; addresses do not (each lab's external bridge is its own).
    """
    overcloud = [node for node in layout.nodes if not node.undercloud]
    return {node.name: FIRST_BMC_PORT + index for index, node in enumerate(overcloud)}


def instackenv(layout: Layout, user: str, password: str) -> dict[str, Any]:
    """TripleO's node registration file for the lab's overcloud nodes."""
    address = layout.networks["external"].gateway
    ports = bmc_ports(layout)
    nodes = []
    for node in layout.nodes:
        if node.undercloud:
            continue
        profile = node.role.lower()
        nodes.append(
            {
                "name": node.name,
                "pm_type": "ipmi",
                "pm_addr": address,
                "pm_port": str(ports[node.name]),
                "pm_user": user,
                "pm_password": password,
                "mac": [node.nics["ctlplane"]["mac"]],
                "cpu": str(node.vcpus),
                "memory": str(node.memory),
                "disk": str(node.disk),
                "arch": "x86_64",
                "capabilities": f"profile:{profile},boot_option:local",
            }
        )
    return {"nodes": nodes}
