"""``ffulab status``: nodes, power, addresses, phases and snapshots of a lab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ffulab.bmc.ipmi import power_states
from ffulab.phases import PHASE_NAMES
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.state import State
from ffulab.virthost.connection import libvirt_open

DOMAIN_STATES = {
    0: "no state",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutting down",
    5: "off",
    6: "crashed",
    7: "suspended",
}


SHOWN = {"release", "versions", "apis"}
"""What status shows of the overcloud: its release, each service's version there, each API's URL."""


def lab_status(workspace: Path) -> dict[str, Any]:
    """Everything ``status`` shows, as data (``--json`` prints it as is)."""
    state = State.load(workspace)
    layout = Layout.from_dict(state.data.layout) if state.data.layout else None
    nodes = []
    if layout:
        power: dict[str, str] = {}
        virthost = lab_virthost(state)
        with libvirt_open(virthost.uri) as conn:
            for domain in conn.listAllDomains():
                power[domain.name()] = DOMAIN_STATES.get(domain.state()[0], "unknown")
        ipmi_power = power_states(virthost, state)
        for node in layout.nodes:
            nodes.append(
                {
                    "name": node.name,
                    "role": node.role,
                    "domain": node.domain,
                    "power": power.get(node.domain, "not defined"),
                    "ipmi_power": ipmi_power.get(node.name),
                    "addresses": {kind: nic["ip"] for kind, nic in node.nics.items()},
                }
            )
    recorded = state.data.phases
    phases = {  # pipeline order
        name: recorded[name].model_dump(exclude_none=True) for name in PHASE_NAMES if name in recorded
    }
    overcloud = state.data.overcloud
    return {
        "lab": state.data.lab,
        "workspace": str(workspace),
        "virthost": state.data.virthost,
        "virt_type": state.data.virt_type,
        "phase": next(reversed(phases), None),
        "phases": phases,
        "overcloud": overcloud.model_dump(include={"release", "versions", "apis"})
        if overcloud.release
        else None,
        "nodes": nodes,
        "snapshots": state.data.snapshots,
    }
