"""Whether the lab's nodes still run: what a failed phase adds when one of them is gone.

A node whose domain stopped under a phase (a process outside ffulab killed its QEMU, the virthost ran
out of memory or disk) first shows up as an SSH error: the netns ProxyCommand finds no guest behind the
address, and ssh reports ``kex_exchange_identification: Connection closed by remote host``, which reads
like an sshd limit or a dead ControlMaster. libvirt knows better: after a failure the pipeline asks it
about every node the failed phase needs running, and the domain's QEMU log for its last word on it
(``terminating on signal 15 from pid N (pkill)``), and names that in the error.
"""

from __future__ import annotations

import logging
import re

from ffulab.phases import PHASE_NAMES
from ffulab.proc import run
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.state import State
from ffulab.virthost.connection import libvirt_open, lookup

log = logging.getLogger(__name__)

QEMU_LOG_DIR = "/var/log/libvirt/qemu"
"""Where the system instance of libvirt's QEMU driver writes each domain's log, ``<domain>.log``."""
LAST_WORDS = re.compile(
    r"terminating on signal|shutting down, reason=|No space left on device|Cannot allocate memory|"
    r"qemu-system-\w+: (?!terminating)"
)
"""The lines of a domain's QEMU log that say why it stopped (QEMU's own and libvirt's)."""
STATE_NAMES = {
    "NOSTATE": "in no state",
    "BLOCKED": "blocked",
    "PAUSED": "paused",
    "SHUTDOWN": "shutting down",
    "SHUTOFF": "shut off",
    "CRASHED": "crashed",
    "PMSUSPENDED": "suspended",
}


def expected_running(phase: str, layout: Layout) -> list:
    """The nodes ``phase`` needs running: the undercloud from ``bmc`` on (it powers the overcloud on),
    every node after it; none before (``provision`` defines the overcloud powered off)."""
    position = PHASE_NAMES.index(phase)
    if position < PHASE_NAMES.index("bmc"):
        return []
    if position == PHASE_NAMES.index("bmc"):
        return [node for node in layout.nodes if node.undercloud]
    return list(layout.nodes)


def describe_state(state: int, reason: int) -> str:
    """libvirt's ``virDomainGetState`` pair in words: ``shut off (reason: shutdown)``."""
    import libvirt

    names = {getattr(libvirt, f"VIR_DOMAIN_{name}", None): name for name in STATE_NAMES}
    name = names.get(state)
    if name is None:
        return f"in state {state} (reason {reason})"
    prefix = f"VIR_DOMAIN_{name}_"
    reasons = [
        key.removeprefix(prefix).lower()
        for key in dir(libvirt)
        if key.startswith(prefix) and not key.endswith("_LAST") and getattr(libvirt, key) == reason
    ]
    return f"{STATE_NAMES[name]} (reason: {reasons[0] if reasons else reason})"


def qemu_last_words(virthost, domain: str) -> str:
    """What the domain's QEMU log says about why it stopped since it last started (libvirt writes
    ``starting up`` at each start), its last two such lines joined by `` | ``; '' if nothing."""
    result = run(virthost.on_host(["tail", "-n", "50", f"{QEMU_LOG_DIR}/{domain}.log"]), check=False)
    lines = (result.stdout or "").splitlines()
    starts = [index for index, line in enumerate(lines) if "starting up" in line]
    since = lines[starts[-1] + 1 :] if starts else lines
    said = [line.strip() for line in since if LAST_WORDS.search(line)]
    return " | ".join(said[-2:])


def nodes_down(state: State, phase: str) -> list[str]:
    """One line per node ``phase`` needs running (and the lab created) whose domain does not run: its
    libvirt state and reason, and what its QEMU log said last. Empty when every such node runs."""
    created = {owned.name for owned in state.resources("domain") if owned.status == "created"}
    if not state.data.layout or not state.data.virthost or not created:
        return []
    import libvirt

    layout = Layout.from_dict(state.data.layout)
    nodes = [node for node in expected_running(phase, layout) if node.domain in created]
    if not nodes:
        return []
    virthost = lab_virthost(state)
    lines = []
    with libvirt_open(virthost.uri) as conn:
        for node in nodes:
            domain = lookup(conn, "domain", node.domain)
            if domain is None:
                lines.append(f"{node.name}: domain {node.domain} is not defined")
                continue
            status, reason = domain.state()
            if status == libvirt.VIR_DOMAIN_RUNNING:
                continue
            line = f"{node.name}: domain {node.domain} is {describe_state(status, reason)}"
            if words := qemu_last_words(virthost, node.domain):
                line += f"; its QEMU log: {words}"
            lines.append(line)
    return lines


def down_note(state: State, phase: str) -> str:
    """What a failed ``phase``'s error adds when nodes it needs are down; '' otherwise or when libvirt
    cannot say (the failure itself is what the user must see first)."""
    try:
        lines = nodes_down(state, phase)
    except Exception:  # never hide the phase's own error behind this check's
        log.exception("checking whether the lab's nodes run failed")
        return ""
    if not lines:
        return ""
    return (
        "\nnodes of the lab are not running (an SSH error above is their symptom; something outside "
        "this step stopped them):\n  " + "\n  ".join(lines)
    )
