"""What became of a workload that stopped answering: its role's probe, run on the workload's host.

A data-plane outage is the network (a flow, a tunnel, a gateway) or the workload itself (its instance
stopped, or hung). From the virthost the poller cannot tell them apart; the role that made the
workload can, on its host (catalog ``workload_probe``: nova's reads the instance's state, registers
and console through libvirt). Its one line goes into the workload's data-plane record, the progress
output and the summary's reasons.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from ffulab.catalog import Catalog
from ffulab.paths import data_root
from ffulab.provision.access import ssh_argv
from ffulab.state import Dataplane, Workload

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 60


def still_down(record: Dataplane) -> bool:
    """Whether a probe of the workload lost its last samples (its outage was still open)."""
    return any(probe.windows and probe.windows[-1].open for probe in record.probes.values())


def diagnose(
    workspace: Path, catalog: Catalog, workloads: dict[str, Workload], records: dict[str, Dataplane]
) -> dict[str, str]:
    """Run the probe of each workload still down; record its line in ``records`` (a workload back up
    drops the line of an earlier run); return them by name."""
    found = {}
    for name, workload in workloads.items():
        record = records.get(name)
        service = catalog.get(workload.service or "")
        if record and not still_down(record):
            record.instance = None
        if not (record and still_down(record) and workload.server and workload.host):
            continue
        if not (service and service.workload_probe):
            continue
        script = data_root() / "roles" / service.name / "files" / service.workload_probe
        record.instance = found[name] = probe(workspace, workload.host, workload.server, script.read_text())
    return found


def probe(workspace: Path, host: str, server: str, script: str) -> str:
    """The script's last line of output on ``host`` (read-only there), or why there is none."""
    try:
        done = subprocess.run(
            ssh_argv(workspace, host, ["sh", "-s", "--", server]),
            input=script,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the probe on {host} gave no answer within {PROBE_TIMEOUT} s"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        log.warning("workload probe on %s failed: %s", host, done.stderr.strip())
        return f"the probe on {host} failed: {why}"
    return lines[-1]
