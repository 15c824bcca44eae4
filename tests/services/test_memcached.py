"""memcached: running, answering the memcache protocol, and listening on the node's ctlplane address only."""

from __future__ import annotations

import shlex

SERVICE = "memcached"
UNIT = "memcached.service"
PORT = 11211


def test_memcached_runs_and_answers(host, node, lab, unit_up):
    unit_up(UNIT)
    address = lab.ctlplane_ip(node)
    talk = f"exec 3<>/dev/tcp/{address}/{PORT}; printf 'version\\r\\n' >&3; timeout 5 head -n 1 <&3"
    answer = host.run(f"bash -c {shlex.quote(talk)}")
    assert answer.stdout.startswith("VERSION "), (
        f"memcached on {node} answers {answer.stdout!r} {answer.stderr}"
    )


def test_memcached_listens_on_the_ctlplane_address_only(listening, lab, node):
    sockets = {(proto, address) for proto, address, names in listening if "memcached" in names.split(",")}
    assert sockets == {("tcp", f"{lab.ctlplane_ip(node)}:{PORT}")}, (
        f"memcached on {node} listens on {sorted(sockets)}"
    )
