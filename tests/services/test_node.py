"""Every overcloud node: its static hostname is its name; nothing listens but sshd, the DHCP client and
the services of its role (the processes each declares in roles/<svc>/ffulab.yml: listens, and the ports
the kernel holds for one with no process: kernel_listens)."""

from __future__ import annotations

SERVICE = None
"""Every overcloud node."""
BASE = {"sshd", "systemd-network"}
"""sshd (how ffulab reaches the node), systemd-networkd's DHCP client."""
SOCKET_ACTIVATION = "systemd"
"""systemd holds a socket unit's socket beside the service it passes it to (rabbitmq's epmd.socket): it
counts as the service's, never alone."""


def holders(names: str) -> set[str]:
    """The processes holding a socket (ss's names), systemd's socket activation left out."""
    return set(filter(None, names.split(","))) - {SOCKET_ACTIVATION}


def theirs(proto: str, address: str, names: str, allowed: set[str], kernel: set[str]) -> bool:
    """Whether the node's services account for a socket: held by their processes only, or held by no
    process on a port the kernel keeps for one of them (``proto/port``)."""
    if names:
        return bool(holders(names)) and holders(names) <= allowed
    return f"{proto}/{address.rsplit(':', 1)[1]}" in kernel


def test_only_the_roles_services_listen(listening, lab, node):
    services = [lab.catalog[s] for s in lab.services_of(node)]
    allowed = BASE | {process for service in services for process in service.listens}
    kernel = {port for service in services for port in service.kernel_listens}
    unexpected = [
        f"{proto} {address} ({names or 'no process'})"
        for proto, address, names in listening
        if not theirs(proto, address, names, allowed, kernel)
    ]
    assert not unexpected, f"on {node}, not expected to listen: {'; '.join(unexpected)}"


def test_the_hostname_is_the_nodes_name(host, node):
    """Static, so no DHCP lease coming or going renames the node (OVN's chassis and nova's host)."""
    assert host.check_output("uname -n") == node, f"{node} calls itself {host.check_output('uname -n')}"
    assert host.file("/etc/hostname").content_string.strip() == node, f"{node}: /etc/hostname is not its name"
