"""The lab's layout: names, subnets, addresses and MACs, decided once and kept in state.

Everything here is pure (no libvirt): the layout is computed from the config and the
subnets already in use, recorded in ``state.json``, and every later phase reads it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ffulab.config.schema import LabConfig
from ffulab.errors import FfulabError

NETWORKS = ("external", "ctlplane")
SUBNET_POOL = ipaddress.ip_network("192.168.0.0/16")
FIRST_OVERCLOUD_HOST = 10
UNDERCLOUD_HOST = 2


@dataclass
class NodeLayout:
    """One VM: what libvirt needs to define it and what ssh/Ansible need to reach it."""

    name: str
    role: str
    domain: str
    memory: int
    vcpus: int
    disk: int
    nics: dict[str, dict[str, str]] = field(default_factory=dict)  # network -> {mac, ip}
    cpu_features: list[str] = field(default_factory=list)
    """Added to TCG's default CPU model (``NodeSpec.cpu_features``)."""

    @property
    def undercloud(self) -> bool:
        return self.role == "undercloud"

    @property
    def ctlplane_ip(self) -> str:
        return self.nics["ctlplane"]["ip"]


@dataclass
class NetworkLayout:
    name: str  # network kind: external | ctlplane
    libvirt_name: str
    bridge: str
    cidr: str

    @property
    def gateway(self) -> str:
        """The bridge's own address: the virthost side (vbmc binds here on external)."""
        return str(ipaddress.ip_network(self.cidr).network_address + 1)


@dataclass
class Layout:
    lab_id: str
    networks: dict[str, NetworkLayout]
    nodes: list[NodeLayout]

    def node(self, name: str) -> NodeLayout:
        for node in self.nodes:
            if node.name == name:
                return node
        raise FfulabError(
            f"no node named '{name}' in this lab; nodes: {', '.join(n.name for n in self.nodes)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        return cls(
            lab_id=data["lab_id"],
            networks={k: NetworkLayout(**v) for k, v in data["networks"].items()},
            nodes=[NodeLayout(**n) for n in data["nodes"]],
        )


def lab_id_for(lab_name: str, workspace: Path) -> str:
    """A short, readable, unique-per-workspace prefix for every libvirt object of the lab."""
    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:6]
    slug = re.sub(r"[^a-z0-9-]", "-", lab_name.lower())[:20].strip("-")
    return f"{slug}-{digest}"


def _mac(lab_id: str, node: str, network: str) -> str:
    """Stable, locally administered MAC (52:54:00 is qemu's prefix)."""
    digest = hashlib.sha256(f"{lab_id}/{node}/{network}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def allocate_subnets(in_use: list[str], count: int = len(NETWORKS)) -> list[str]:
    """Pick ``count`` free /24s from 192.168.0.0/16 that overlap none of ``in_use``."""
    used = [ipaddress.ip_network(cidr, strict=False) for cidr in in_use]
    free = []
    for candidate in SUBNET_POOL.subnets(new_prefix=24):
        if candidate.network_address.packed[2] < 100:  # leave the commonly used low ranges alone
            continue
        if not any(candidate.overlaps(other) for other in used):
            free.append(str(candidate))
            if len(free) == count:
                return free
    raise FfulabError(f"no free /24 left in {SUBNET_POOL} for the lab networks (in use: {', '.join(in_use)})")


def build_layout(
    config: LabConfig,
    lab_id: str,
    subnets: list[str],
    external_roles: set[str] = frozenset(),  # type: ignore[assignment]
) -> Layout:
    """Name everything and give each node its addresses on the lab networks; nodes of
    ``external_roles`` get a NIC on the external network too (its services need one)."""
    bridge_tag = hashlib.sha256(lab_id.encode()).hexdigest()[:5]
    networks = {
        kind: NetworkLayout(kind, f"{lab_id}-{kind}", f"ffl{bridge_tag}{kind[0]}", cidr)
        for kind, cidr in zip(NETWORKS, subnets, strict=True)
    }

    def ip(kind: str, host: int) -> str:
        return str(ipaddress.ip_network(networks[kind].cidr).network_address + host)

    undercloud = config.nodes.undercloud
    nodes = [
        NodeLayout(
            "undercloud",
            "undercloud",
            f"{lab_id}-undercloud",
            undercloud.memory,
            undercloud.vcpus,
            undercloud.disk,
            {
                kind: {"mac": _mac(lab_id, "undercloud", kind), "ip": ip(kind, UNDERCLOUD_HOST)}
                for kind in NETWORKS
            },
        )
    ]
    for index, (name, group) in enumerate(config.overcloud_nodes()):
        kinds = ["ctlplane", *(["external"] if group.role in external_roles else [])]
        nics = {
            kind: {"mac": _mac(lab_id, name, kind), "ip": ip(kind, FIRST_OVERCLOUD_HOST + index)}
            for kind in kinds
        }
        nodes.append(
            NodeLayout(
                name,
                group.role,
                f"{lab_id}-{name}",
                group.memory,
                group.vcpus,
                group.disk,
                nics,
                list(group.cpu_features),
            )
        )
    return Layout(lab_id, networks, nodes)
