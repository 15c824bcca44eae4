"""``ffulab destroy``: remove everything the lab's state records, newest first.

Records in state ``planned`` (a crash hit between recording and creating) are removed
just like ``created`` ones; removing something already gone (libvirt: no such domain or
network) is not an error. Any other failure stops destroy naming the resource, whose
record stays, so a rerun tries it again. The workspace keeps its logs and artifacts;
state, keys, disks, configs and the step-4 database dumps go.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ffulab.bmc.vbmc import stop_daemon
from ffulab.errors import FfulabError, VirthostError
from ffulab.proc import CommandError
from ffulab.provision import access
from ffulab.provision.labvirt import lab_virthost
from ffulab.state import State, StateError
from ffulab.virthost.connection import acting_on, libvirt_open, lookup

log = logging.getLogger(__name__)
LEFT_IN_WORKSPACE = ("logs", "artifacts")


def _remove_domain(virthost, conn, record: dict[str, Any]) -> None:
    import libvirt

    domain = lookup(conn, "domain", record["name"])
    if domain is None:
        return
    flags = (
        libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    )
    with acting_on(f"domain {record['name']}"):
        if domain.isActive():
            domain.destroy()
        domain.undefineFlags(flags)


def _remove_network(virthost, conn, record: dict[str, Any]) -> None:
    network = lookup(conn, "network", record["name"])
    if network is None:
        return
    with acting_on(f"network {record['name']}"):
        if network.isActive():
            network.destroy()
        network.undefine()


def _remove_file(virthost, conn, record: dict[str, Any]) -> None:
    """A file on the virthost (the lab's disks); a record from before any virthost is a local one."""
    if virthost is None:
        Path(record["name"]).unlink(missing_ok=True)
    else:
        virthost.remove(record["name"])


def _remove_dir(virthost, conn, record: dict[str, Any]) -> None:
    """The lab's own directory on an ssh virthost (console logs, vbmc config and logs left in it)."""
    if virthost is None:
        raise VirthostError("it is on a virthost, and no virthost is recorded")
    virthost.remove(record["name"], tree=True)


def _remove_vbmcd(virthost, conn, record: dict[str, Any]) -> None:
    if virthost is None:
        raise VirthostError("it runs on a virthost, and no virthost is recorded")
    stop_daemon(virthost, record["name"])


REMOVERS: dict[str, Callable[[Any, Any, dict[str, Any]], None]] = {
    "domain": _remove_domain,
    "network": _remove_network,
    "file": _remove_file,
    "dir": _remove_dir,
    "vbmcd": _remove_vbmcd,
}


def destroy(workspace: Path, progress: Callable[[str], None] = print) -> list[str]:
    """Remove the lab at ``workspace``; return what was removed."""
    try:
        state = State.load(workspace)
    except StateError:
        if not State.exists(workspace):
            raise
        state = State.salvage(workspace)  # made by another ffulab version: still destroyed
    removed: list[str] = []
    access.close_masters(workspace, [node["name"] for node in (state.data.layout or {}).get("nodes", [])])
    virthost = lab_virthost(state) if state.data.virthost else None
    if virthost and any(owned.kind in ("domain", "network") for owned in state.resources()):
        # a reboot stopped the sandbox's libvirtd: its domains stay defined
        for line in virthost.start(progress):
            progress(line)
    with ExitStack() as stack:
        conn = stack.enter_context(libvirt_open(virthost.uri)) if virthost else None
        for record in reversed([owned.model_dump() for owned in state.resources()]):
            if conn is None and record["kind"] in ("domain", "network"):
                raise FfulabError(
                    f"{workspace}: {record['kind']} {record['name']} is recorded but no virthost is"
                )
            try:
                REMOVERS[record["kind"]](virthost, conn, record)
            except (VirthostError, CommandError, OSError) as exc:
                raise FfulabError(
                    f"{workspace}: could not remove {record['kind']} {record['name']}: {exc}; it stays "
                    f"recorded (with everything older): fix that, then 'ffulab destroy -w {workspace}' again"
                ) from exc
            state.forget(record["kind"], record["name"])
            removed.append(f"{record['kind']} {record['name']}")
            progress(f"removed {record['kind']} {record['name']}")
    if virthost:
        for line in virthost.teardown_if_unused(virthost.uri, leaving=workspace):
            progress(line)
            removed.append(line)
    for entry in workspace.iterdir():
        if entry.name not in LEFT_IN_WORKSPACE:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    log.info("destroyed the lab in %s (kept: %s)", workspace, ", ".join(LEFT_IN_WORKSPACE))
    return removed
