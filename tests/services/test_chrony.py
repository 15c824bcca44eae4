"""chrony: the node keeps time from the undercloud, is synchronised, and serves time to nobody."""

from __future__ import annotations

SERVICE = "chrony"
UNIT = "chrony.service"


def _undercloud_ip(lab) -> str:
    return lab.node("undercloud")["nics"]["ctlplane"]["ip"]


def test_chrony_runs(unit_up):
    unit_up(UNIT)


def test_the_clock_is_synchronised_with_the_undercloud(host, node, lab):
    sources = host.check_output("chronyc -n sources")
    selected = [line for line in sources.splitlines() if line.startswith("^*")]
    assert selected and _undercloud_ip(lab) in selected[0], (
        f"{node} is not synchronised with the undercloud {_undercloud_ip(lab)}:\n{sources}"
    )
    tracking = host.check_output("chronyc -n tracking")
    assert "Leap status     : Normal" in tracking, f"{node}: chrony is not synchronised:\n{tracking}"


def test_chrony_serves_no_one(listening, node):
    sockets = {(proto, address) for proto, address, names in listening if "chronyd" in names.split(",")}
    exposed = {socket for socket in sockets if not socket[1].startswith(("127.0.0.1:", "[::1]:"))}
    assert not exposed, f"chronyd on {node} listens beyond loopback: {sorted(exposed)}"
