"""An OVN chassis: ovn-controller and Open vSwitch run; the chassis (named and with the hostname of the
node, as nova's host) points at the lab's southbound database with geneve on its ctlplane address and
is registered there as a gateway; the external NIC is a port of br-ex without an address, br-ex maps
the physnet of neutron's external network, and ovn-controller made br-int."""

from __future__ import annotations

SERVICE = "ovn_host"
PHYSNET = "physnet1"
"""roles/ovn_host/defaults: ovn_host_physnet (= roles/neutron/defaults: neutron_physnet)."""


def external_id(host, key: str) -> str:
    return host.check_output(f"ovs-vsctl --if-exists get Open_vSwitch . external_ids:{key}").strip('"')


def test_ovs_and_ovn_controller_run(host, node, unit_up):
    unit_up("openvswitch-switch.service")
    unit_up("ovn-host.service")
    assert host.service("ovn-controller.service").is_running, f"ovn-controller is not running on {node}"
    assert host.run("ovs-vsctl br-exists br-int").rc == 0, f"no br-int on {node}: ovn-controller made none"


def test_the_chassis_settings(host, lab, node):
    central = lab.ctlplane_ip(lab.first_node_running("ovn_central"))
    wanted = {
        "system-id": node,
        "hostname": node,
        "ovn-remote": f"tcp:{central}:6642",
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": lab.ctlplane_ip(node),
        "ovn-bridge-mappings": f"{PHYSNET}:br-ex",
        "ovn-cms-options": "enable-chassis-as-gw",
    }
    found = {key: external_id(host, key) for key in wanted}
    assert found == wanted, f"{node}'s OVS external_ids are {found}, expected {wanted}"


def test_the_chassis_is_a_registered_gateway(host, lab, node):
    central = lab.ctlplane_ip(lab.first_node_running("ovn_central"))
    db = f"--db=tcp:{central}:6642"
    options = host.run(f"ovn-sbctl --timeout=20 {db} --bare --columns=other_config find Chassis name={node}")
    assert options.rc == 0, f"the southbound database at {central}: {options.stderr}"
    assert "enable-chassis-as-gw" in options.stdout, (
        f"chassis {node} in the southbound database: {options.stdout!r}"
    )
    encap = host.check_output(
        f"ovn-sbctl --timeout=20 {db} --bare --columns=ip find Encap chassis_name={node}"
    )
    assert encap.split() == [lab.ctlplane_ip(node)], f"{node}'s geneve endpoint is {encap!r}"


def test_the_external_nic_is_in_br_ex_without_an_address(host, lab, node):
    mac = lab.node(node)["nics"]["external"]["mac"].lower()
    find = (
        "for d in /sys/class/net/*; do "
        '[ -e $d/device ] && [ "$(cat $d/address)" = {} ] && basename $d; done; true'
    )
    nic = host.check_output(find.format(mac))
    assert nic, f"no NIC with the external network's MAC {mac} on {node}"
    assert host.check_output(f"ovs-vsctl port-to-br {nic}") == "br-ex", (
        f"{nic} is not a port of br-ex on {node}"
    )
    assert not host.check_output(f"ip -4 -o addr show dev {nic}"), f"{nic} on {node} has an IPv4 address"


def test_the_local_ovsdb_listens_on_loopback_for_os_vif(host, listening, node):
    assert host.check_output("ovs-vsctl get-manager") == "ptcp:6640:127.0.0.1", f"{node}'s OVS manager"
    bound = {address for proto, address, names in listening if "ovsdb-server" in names.split(",")}
    assert bound == {"127.0.0.1:6640"}, f"ovsdb-server on {node} listens at {sorted(bound)}, not loopback"
