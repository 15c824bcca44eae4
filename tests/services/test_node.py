"""Every overcloud node: nothing listens but sshd, the DHCP client and the services of its role (the
processes each declares in roles/<svc>/ffulab.yml: listens)."""

from __future__ import annotations

SERVICE = None
"""Every overcloud node."""
BASE = {"sshd", "systemd-network"}
"""sshd (how ffulab reaches the node), systemd-networkd's DHCP client."""


def test_only_the_roles_services_listen(listening, lab, node):
    allowed = BASE | {process for s in lab.services_of(node) for process in lab.catalog[s].listens}
    unexpected = [
        f"{proto} {address} ({names or 'no process'})"
        for proto, address, names in listening
        if not names or not set(names.split(",")) <= allowed
    ]
    assert not unexpected, f"on {node}, not expected to listen: {'; '.join(unexpected)}"
