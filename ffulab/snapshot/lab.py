"""Lab-consistent snapshots: every domain of the lab at one moment, and the state that goes with it.

``create`` pauses every running domain, snapshots each (memory too if it ran, disk only if it
was off), then resumes them all whatever happened; a failure half-way deletes the parts
already taken. ``revert`` puts every domain back (in parallel), restores the state's phases,
then waits until every running node answers SSH with its clock stepped to the host's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ffulab import interrupts
from ffulab.errors import SnapshotError
from ffulab.provision import access
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.snapshot import domains, records, usable
from ffulab.state import State
from ffulab.virthost.connection import libvirt_open, lookup

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _quiet(line: str) -> None:
    log.info("%s", line)


@dataclass
class Options:
    """How a revert is done (the defaults are the fastest measured; the bench varies them)."""

    method: str = domains.IN_PLACE
    threads: bool = True
    flush_neighbours: bool = True
    wait: bool = True
    ssh_timeout: float = 120


@dataclass
class Outcome:
    """What a create or revert did and how long each part took (``bench/snapshot.py`` reports it)."""

    record: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)


@contextmanager
def _lab(state: State):
    """The lab's layout and its domains (node -> libvirt domain) on an open connection."""
    if not state.data.layout:
        raise SnapshotError("-", "the lab has no nodes yet: run the 'provision' phase first")
    layout = Layout.from_dict(state.data.layout)
    virthost = lab_virthost(state)
    with libvirt_open(virthost.uri) as conn:
        found = {node.name: lookup(conn, "domain", node.domain) for node in layout.nodes}
        yield virthost, layout, found


def _seconds(started: float) -> float:
    return round(time.monotonic() - started, 2)


def create(
    state: State,
    name: str | None = None,
    *,
    auto: bool = False,
    ffu: dict[str, Any] | None = None,
    threads: bool = True,
    step_clocks: bool = True,
    progress: Progress = _quiet,
) -> Outcome:
    """Snapshot every domain of the lab as ``name`` (default: a timestamped name)."""
    name = records.check_name(name or records.timestamped_name())
    if records.find(state, name):
        raise SnapshotError(name, "exists already: delete it first, or choose another name")
    started = time.monotonic()
    outcome = Outcome(record={})
    # never half taken, never left paused: Ctrl-C/SIGTERM wait for the block, then are raised
    held = interrupts.held(f"finishing snapshot create {name} first")
    with held, _lab(state) as (virthost, _layout, found):
        missing = [node for node, domain in found.items() if domain is None]
        if missing:
            raise SnapshotError(name, f"no domain for {', '.join(missing)}: run the 'provision' phase first")
        nodes = [
            {"name": node, "domain": found[node].name(), "power": domains.power(found[node])}
            for node in found
        ]
        record = records.new_record(state, name, nodes, auto=auto, ffu=ffu)
        records.put(state, record)  # recorded before any domain is touched
        outcome.record = record

        def take(node: dict[str, Any]) -> float:
            return domains.take(found[node["name"]], name, with_memory=node["power"] != domains.OFF)

        paused_at = time.time()
        with domains.paused(list(found.values())):
            outcome.seconds["pause"] = _seconds(started)
            snapshots_started = time.monotonic()
            results = domains.parallel(take, nodes, threads=threads)
            outcome.seconds["snapshots"] = _seconds(snapshots_started)
            failed = {n["name"]: err for n, (_, err) in zip(nodes, results, strict=True) if err is not None}
            if failed:
                removed = _remove_parts(found, name)
                records.remove(state, name)
                problems = "; ".join(f"{node}: {error}" for node, error in failed.items())
                undone = (
                    f"removed the part already taken from {', '.join(removed)}" if removed else "nothing kept"
                )
                raise SnapshotError(name, f"not taken ({problems}); {undone}; every domain resumed")
            resumed = time.monotonic()
        outcome.seconds["resume"] = _seconds(resumed)
        outcome.seconds["create"] = _seconds(started)
        record["paused"] = {"start": round(paused_at, 3), "end": round(time.time(), 3)}
        for node, (seconds, _) in zip(nodes, results, strict=True):
            info = domains.qemu_img_info(domains.disk_path(found[node["name"]]) or "", virthost.on_host)
            node["vm_state_bytes"] = domains.vm_state_size(info, name)
            node["seconds"] = round(seconds, 2)
        record["status"] = records.COMPLETE
        record["seconds"] = outcome.seconds["create"]
        records.put(state, record)
    running = [n["name"] for n in nodes if n["power"] == domains.RUNNING]
    if step_clocks and running:
        clock_started = time.monotonic()
        offsets = usable.step_clocks(state.workspace, running)
        outcome.seconds["clocks"] = _seconds(clock_started)
        for node, offset in offsets.items():
            outcome.nodes[node] = {"offset": offset}
            if isinstance(offset, str):
                progress(f"{node}: clock not stepped after the pause ({offset})")
    progress(f"snapshot {name}: {len(nodes)} domain(s) in {outcome.seconds['create']:.1f}s")
    return outcome


def _remove_parts(found: dict[str, Any], name: str) -> list[str]:
    """Delete the per-domain snapshots ``name`` that exist; return the nodes they were on."""
    removed = []
    for node, domain in found.items():
        if domain is None:
            continue
        try:
            if domains.drop(domain, name):
                removed.append(node)
        except Exception as exc:  # keep going: the message lists what could not be removed
            log.error("could not delete the partial snapshot %s of %s: %s", name, node, exc)
    return removed


def revert(state: State, name: str, options: Options | None = None, progress: Progress = _quiet) -> Outcome:
    """Put every domain back to snapshot ``name``, restore the state's phases, wait until usable."""
    options = options or Options()
    record = records.get(state, name)
    started = time.monotonic()
    outcome = Outcome(record=record)
    # the domains and the state move together: Ctrl-C/SIGTERM wait for the block, then are raised
    with interrupts.held(f"finishing snapshot revert {name} first"), _lab(state) as (virthost, layout, found):
        in_snapshot = {n["name"]: n for n in record["nodes"]}
        gone = [node for node in in_snapshot if found.get(node) is None]
        if gone:
            raise SnapshotError(name, f"the domain of {', '.join(gone)} no longer exists: cannot revert")
        lacking = [node for node in in_snapshot if not domains.has_snapshot(found[node], name)]
        if lacking:
            raise SnapshotError(name, f"{', '.join(lacking)} has no part of it in libvirt: delete it")
        access.close_masters(state.workspace, list(found))
        pairs = [(node, found[node]) for node in in_snapshot]
        stopped = [node for node, domain in pairs if domains.power(domain) == domains.RUNNING]
        results: list[tuple[Any, Any]] = []
        try:
            for node in stopped:  # the lab stops as one, and is resumed below as one
                found[node].suspend()
            outcome.seconds["pause"] = _seconds(started)
            results = domains.parallel(
                lambda pair: domains.revert(
                    pair[1], name, in_snapshot[pair[0]]["power"] != domains.OFF, options.method
                ),
                pairs,
                threads=options.threads,
            )
            outcome.seconds["revert"] = _seconds(started)
        finally:
            resume_started = time.monotonic()
            reverted = {node: done for (node, _), (done, _) in zip(pairs, results, strict=False) if done}
            for node, domain in pairs:
                wanted = in_snapshot[node]["power"] if node in reverted else domains.RUNNING
                if (node in reverted or node in stopped) and wanted == domains.RUNNING:
                    domains.resume_if_paused(domain)
            outcome.seconds["resume"] = _seconds(resume_started)
        failed = [f"{node}: {err}" for (node, _), (_, err) in zip(pairs, results, strict=True) if err]
        if failed:
            raise SnapshotError(
                name, "revert failed: " + "; ".join(failed) + " (the other domains were reverted)"
            )
        for node, done in reverted.items():
            outcome.nodes[node] = {"method": done.method, "seconds": round(done.seconds, 2)}
            if done.fallback:
                outcome.nodes[node]["fallback"] = done.fallback
        if options.flush_neighbours:
            flush_started = time.monotonic()
            usable.flush_neighbours(virthost.wrap, [net.bridge for net in layout.networks.values()])
            outcome.seconds["flush"] = _seconds(flush_started)
        records.restore(state, record)
    outcome.seconds["reverted"] = _seconds(started)
    progress(f"domains back at {name} in {outcome.seconds['reverted']:.1f}s; phases restored")
    running = [n["name"] for n in record["nodes"] if n["power"] == domains.RUNNING]
    if options.wait and running:
        ready = usable.wait_all(state.workspace, running, options.ssh_timeout, progress)
        for item in ready:
            outcome.nodes[item.node].update(
                ssh=round(item.seconds, 2), offset=round(item.offset, 3), attempts=item.attempts
            )
            if item.errors:
                outcome.nodes[item.node]["ssh_errors"] = item.errors
        outcome.seconds["usable"] = _seconds(started)
        progress(
            f"every node answers SSH, clocks stepped: usable {outcome.seconds['usable']:.1f}s after start"
        )
    return outcome


def delete(state: State, name: str, progress: Progress = _quiet) -> list[str]:
    """Delete snapshot ``name`` (complete or left half-made) from every domain; return the nodes.

    A create killed half-way (SIGKILL: no ``finally``) also left the lab paused: the domains its
    record saw running and that are still paused are resumed.
    """
    record = records.get(state, name, complete=False)
    with _lab(state) as (_virthost, _layout, found):
        removed = _remove_parts(found, name)
        left = [
            node
            for node, domain in found.items()
            if domain is not None and domains.has_snapshot(domain, name)
        ]
        if record.get("status") != records.COMPLETE:
            for node in record["nodes"]:
                domain = found.get(node["name"])
                if node["power"] == domains.RUNNING and domain and domains.power(domain) == domains.PAUSED:
                    domains.resume_if_paused(domain)
                    progress(f"{node['name']} was left paused by the interrupted create: resumed")
    if left:
        raise SnapshotError(name, f"could not delete it from {', '.join(left)}; see the log")
    records.remove(state, name)
    progress(f"snapshot {name} deleted from {', '.join(removed) or 'no domain (none had it)'}")
    return removed


def power_off(state: State, progress: Progress = _quiet) -> list[str]:
    """Stop every running domain of the lab (its snapshots keep their memory: a revert starts them
    again); return the nodes stopped."""
    stopped = []
    with _lab(state) as (_virthost, _layout, found):
        access.close_masters(state.workspace, list(found))
        for node, domain in found.items():
            if domain is not None and domains.power(domain) != domains.OFF:
                domain.destroy()
                stopped.append(node)
                progress(f"{node} powered off")
    return stopped


def listing(state: State) -> list[dict[str, Any]]:
    """Every snapshot, oldest first, as ``list`` shows it."""
    last = (state.data.last_revert or {}).get("snapshot")
    return [
        {
            "name": record["name"],
            "time": record["time"],
            "phase": record.get("phase"),
            "ffu": record.get("ffu"),
            "auto": record.get("auto", False),
            "status": record.get("status"),
            "vm_state_bytes": records.vm_state_bytes(record),
            "nodes": {n["name"]: n.get("vm_state_bytes") for n in record["nodes"]},
            "power": {n["name"]: n["power"] for n in record["nodes"]},
            "last_reverted_to": record["name"] == last,
        }
        for record in records.all_records(state)
    ]
