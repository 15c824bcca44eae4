"""Layout, XML and access files of a lab: names, subnets, addresses, ssh config, inventory."""

from __future__ import annotations

import ipaddress
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ffulab.config.resolve import resolve
from ffulab.errors import FfulabError
from ffulab.provision import access
from ffulab.provision.layout import Layout, allocate_subnets, build_layout, lab_id_for
from ffulab.provision.xml import domain_xml, network_xml


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    config = resolve(nodes="1ctlr_1comp").config
    return build_layout(config, lab_id_for(config.lab.name, tmp_path / "ws"), allocate_subnets([]))


def test_subnets_avoid_every_network_in_use():
    in_use = ["192.168.100.0/24", "192.168.101.0/25", "192.168.96.0/20"]
    chosen = allocate_subnets(in_use)
    assert len(chosen) == 2
    for cidr in chosen:
        net = ipaddress.ip_network(cidr)
        assert not any(net.overlaps(ipaddress.ip_network(other)) for other in in_use)


def test_subnet_pool_exhaustion_is_a_clear_error():
    with pytest.raises(FfulabError, match="no free /24"):
        allocate_subnets(["192.168.0.0/16"])


def test_two_workspaces_get_different_names_and_bridges(tmp_path: Path):
    config = resolve().config
    first = build_layout(config, lab_id_for("keystone-only", tmp_path / "a"), allocate_subnets([]))
    second = build_layout(config, lab_id_for("keystone-only", tmp_path / "b"), allocate_subnets([]))
    assert first.lab_id != second.lab_id
    assert {n.domain for n in first.nodes}.isdisjoint(n.domain for n in second.nodes)
    assert {n.bridge for n in first.networks.values()}.isdisjoint(n.bridge for n in second.networks.values())
    assert {n.nics["ctlplane"]["mac"] for n in first.nodes}.isdisjoint(
        n.nics["ctlplane"]["mac"] for n in second.nodes
    )
    for network in first.networks.values():
        assert len(network.bridge) <= 15, "Linux bridge names are limited to 15 characters"


def test_layout_round_trips_through_state(layout: Layout):
    assert Layout.from_dict(layout.to_dict()) == layout


def test_undercloud_on_both_networks_overcloud_on_ctlplane_only(layout: Layout):
    undercloud = layout.node("undercloud")
    assert set(undercloud.nics) == {"external", "ctlplane"}
    for node in layout.nodes[1:]:
        assert set(node.nics) == {"ctlplane"}
    addresses = [node.ctlplane_ip for node in layout.nodes]
    assert len(set(addresses)) == len(addresses)
    ctlplane = ipaddress.ip_network(layout.networks["ctlplane"].cidr)
    assert all(ipaddress.ip_address(a) in ctlplane for a in addresses)


def test_the_nodes_of_a_role_whose_service_needs_the_external_network_get_a_nic_there(tmp_path: Path):
    """The NIC comes after ctlplane (the guest's first NIC stays ctlplane), its MAC is the node's own."""
    config = resolve(nodes="1ctlr_1comp").config
    layout = build_layout(config, lab_id_for("x", tmp_path), allocate_subnets([]), {"Compute"})
    compute = next(node for node in layout.nodes if node.role == "Compute")
    controller = next(node for node in layout.nodes if node.role == "Controller")
    assert list(compute.nics) == ["ctlplane", "external"] and list(controller.nics) == ["ctlplane"]
    external = ipaddress.ip_network(layout.networks["external"].cidr)
    assert ipaddress.ip_address(compute.nics["external"]["ip"]) in external
    assert compute.nics["external"]["mac"] != compute.nics["ctlplane"]["mac"]
    sources = [e.get("network") for e in ET.fromstring(_domain(compute, layout, tmp_path)).iter("source")]
    networks = layout.networks
    assert sources[-2:] == [networks["ctlplane"].libvirt_name, networks["external"].libvirt_name]


def _domain(node, layout: Layout, tmp_path: Path) -> str:
    return domain_xml(
        node,
        layout.networks,
        virt_type="qemu",
        disk=tmp_path / "d.qcow2",
        kernel=tmp_path / "k",
        initrd=tmp_path / "i",
        cmdline="console=ttyS0",
        console_log=tmp_path / "c.log",
    )


def test_network_xml_is_isolated_with_fixed_leases(layout: Layout):
    root = ET.fromstring(network_xml(layout.networks["ctlplane"], layout.nodes))
    assert root.find("forward") is None, "lab networks must not forward (no NAT, no routing)"
    hosts = {h.get("name"): h.get("ip") for h in root.iter("host")}
    assert hosts == {node.name: node.ctlplane_ip for node in layout.nodes}
    assert root.find("bridge").get("name") == layout.networks["ctlplane"].bridge


def test_domain_xml_direct_boot_virtio_and_console_log(layout: Layout, tmp_path: Path):
    node = layout.node("overcloud-controller-0")
    xml = domain_xml(
        node,
        layout.networks,
        virt_type="qemu",
        disk=tmp_path / "d.qcow2",
        kernel=tmp_path / "vmlinuz",
        initrd=tmp_path / "initrd",
        cmdline="root=/dev/vda",
        console_log=tmp_path / "console.log",
    )
    root = ET.fromstring(xml)
    assert root.get("type") == "qemu"
    assert root.find("memory").text == str(node.memory) and root.find("memory").get("unit") == "MiB"
    assert root.find("vcpu").text == str(node.vcpus)
    assert root.find("os/kernel").text.endswith("vmlinuz")
    assert root.find("devices/disk/target").get("bus") == "virtio"
    assert [i.find("model").get("type") for i in root.iter("interface")] == ["virtio"]
    assert root.find("devices/serial/log").get("file") == str(tmp_path / "console.log")


def test_domain_xml_is_accepted_by_libvirt(layout: Layout, tmp_path: Path):
    libvirt = pytest.importorskip("libvirt")
    conn = libvirt.open("test:///default")
    try:
        for network in layout.networks.values():
            conn.networkDefineXML(network_xml(network, layout.nodes)).create()
        for node in layout.nodes:
            xml = domain_xml(
                node,
                layout.networks,
                virt_type="test",
                disk=tmp_path / f"{node.name}.qcow2",
                kernel=tmp_path / "k",
                initrd=tmp_path / "i",
                cmdline="x",
                console_log=tmp_path / "c.log",
            )
            assert conn.defineXML(xml).name() == node.domain
    finally:
        conn.close()


def test_ssh_config_reaches_undercloud_via_virthost_and_overcloud_via_undercloud(
    layout: Layout, tmp_path: Path
):
    path = access.write_ssh_config(tmp_path, layout, "ip netns exec ffulab-sandbox socat - TCP:%h:%p")
    text = path.read_text()
    blocks = {b.split("\n")[0].strip(): b for b in text.split("\nHost ")[1:]}
    assert "ProxyCommand ip netns exec ffulab-sandbox socat - TCP:%h:%p" in blocks["undercloud"]
    assert "ProxyJump undercloud" in blocks["overcloud-controller-0"]
    assert f"HostName {layout.node('undercloud').ctlplane_ip}" in blocks["undercloud"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_inventory_groups_by_role_and_uses_the_ssh_config(layout: Layout, tmp_path: Path):
    inventory = yaml.safe_load(access.write_inventory(tmp_path, layout).read_text())["all"]
    assert inventory["vars"]["ansible_ssh_common_args"] == f"-F {tmp_path / access.SSH_CONFIG}"
    overcloud = inventory["children"]["overcloud"]["children"]
    assert set(overcloud["Controller"]["hosts"]) == {"overcloud-controller-0"}
    assert set(overcloud["Compute"]["hosts"]) == {"overcloud-novacompute-0"}
    assert set(inventory["children"]["undercloud"]["hosts"]) == {"undercloud"}


def test_routed_subnets_of_the_virthost_count_as_in_use():
    from ffulab.provision.labvirt import routed_subnets

    class FakeVirthost:
        def wrap(self, argv):
            routes = (
                "default via 10.0.0.1 dev eth0\\n192.168.100.0/24 dev br0 proto kernel\\n10.1.2.3 dev tun0\\n"
            )
            return ["printf", routes]

    assert routed_subnets(FakeVirthost()) == ["192.168.100.0/24", "10.1.2.3/32"]
    assert "192.168.100.0/24" not in allocate_subnets(routed_subnets(FakeVirthost()))


def test_cpu_features_go_on_top_of_tcgs_default_model_and_kvm_keeps_the_hosts_cpu(
    layout: Layout, tmp_path: Path
):
    node = replace(layout.node("overcloud-controller-0"), cpu_features=["npt", "vgif"])
    cpu = ET.fromstring(_domain(node, layout, tmp_path)).find("cpu")
    assert (cpu.get("mode"), cpu.find("model").text) == ("custom", "qemu64")
    assert [(f.get("policy"), f.get("name")) for f in cpu.iter("feature")] == [
        ("require", "npt"),
        ("require", "vgif"),
    ]
    plain = replace(node, cpu_features=[])
    assert ET.fromstring(_domain(plain, layout, tmp_path)).find("cpu") is None, "TCG's default as it is"
    kvm = domain_xml(
        node,
        layout.networks,
        virt_type="kvm",
        disk=tmp_path,
        kernel=tmp_path,
        initrd=tmp_path,
        cmdline="",
        console_log=tmp_path / "c",
    )
    assert ET.fromstring(kvm).find("cpu").get("mode") == "host-passthrough"
