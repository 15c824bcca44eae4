"""libvirt XML for the lab's networks and domains, built from the layout (pure functions)."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from pathlib import Path

from ffulab.provision.layout import NetworkLayout, NodeLayout

TCG_MODEL = "qemu64"
"""QEMU's default CPU model under TCG, which libvirt uses when a domain names none."""


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def network_xml(network: NetworkLayout, nodes: list[NodeLayout]) -> str:
    """An isolated network (no <forward>: no NAT, no routing) with fixed DHCP leases per node."""
    net = ipaddress.ip_network(network.cidr)
    root = ET.Element("network")
    _sub(root, "name", network.libvirt_name)
    _sub(root, "bridge", name=network.bridge, stp="off", delay="0")
    ip = _sub(root, "ip", address=network.gateway, netmask=str(net.netmask))
    dhcp = _sub(ip, "dhcp")
    _sub(dhcp, "range", start=str(net.network_address + 200), end=str(net.network_address + 250))
    for node in nodes:
        nic = node.nics.get(network.name)
        if nic:
            _sub(dhcp, "host", mac=nic["mac"], name=node.name, ip=nic["ip"])
    return ET.tostring(root, encoding="unicode")


def domain_xml(
    node: NodeLayout,
    networks: dict[str, NetworkLayout],
    *,
    virt_type: str,
    disk: Path,
    kernel: Path,
    initrd: Path,
    cmdline: str,
    console_log: Path,
) -> str:
    """A direct-kernel-boot domain: virtio disk and NICs, serial console logged to a file."""
    root = ET.Element("domain", type=virt_type)
    _sub(root, "name", node.domain)
    _sub(root, "memory", str(node.memory), unit="MiB")
    _sub(root, "vcpu", str(node.vcpus))
    os_ = _sub(root, "os")
    _sub(os_, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_, "kernel", str(kernel))
    _sub(os_, "initrd", str(initrd))
    _sub(os_, "cmdline", cmdline)
    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if virt_type == "kvm":
        _sub(root, "cpu", mode="host-passthrough")
    elif node.cpu_features:
        cpu = _sub(root, "cpu", mode="custom", match="exact", check="none")
        _sub(cpu, "model", TCG_MODEL, fallback="forbid")
        for feature in node.cpu_features:
            _sub(cpu, "feature", policy="require", name=feature)
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    devices = _sub(root, "devices")
    disk_el = _sub(devices, "disk", type="file", device="disk")
    _sub(disk_el, "driver", name="qemu", type="qcow2", cache="unsafe", discard="unmap")
    _sub(disk_el, "source", file=str(disk))
    _sub(disk_el, "target", dev="vda", bus="virtio")
    for kind, nic in node.nics.items():
        interface = _sub(devices, "interface", type="network")
        _sub(interface, "mac", address=nic["mac"])
        _sub(interface, "source", network=networks[kind].libvirt_name)
        _sub(interface, "model", type="virtio")
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "log", file=str(console_log), append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    _sub(devices, "rng", model="virtio").append(_backend())
    _sub(devices, "memballoon", model="none")
    return ET.tostring(root, encoding="unicode")


def _backend() -> ET.Element:
    backend = ET.Element("backend", model="random")
    backend.text = "/dev/urandom"
    return backend
