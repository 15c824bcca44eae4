"""Data-plane continuity: the workloads' floating IPs pinged and connected to every second through the FFU.

The FFU's promise is "control plane down, data plane up". A service's resources script names each
workload it made (``ffulab-dataplane: {json}``: its address, TCP port, server UUID and host; kept in
the state's ``resources.workloads``); the poller (:mod:`ffulab.ffu.poller`) sends each one an ICMP
echo and a TCP ``GET /`` every second from the virthost, where the lab's external network is, from
before step 1 until the final deploy ends. The workload's responder answers with its uptime, so a
rebooted instance shows as its counter going back. tripleo-upgrade's limits fail the job: a longest
outage above 60 s or more than 1 % of the pings lost (``settings.ffu.dataplane``); the goal is none.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from typing import Any

from ffulab.ffu.downtime import unpaused, windows
from ffulab.state import Dataplane, ProbeRecord, UptimeRecord, Window, Workload

WORKLOAD_LINE = re.compile(r"^ffulab-dataplane: (?P<json>\{.*\})\r?$", re.MULTILINE)
"""What a resources script prints per workload it made."""
UPTIME_SLACK = 5.0
"""Seconds the uptime may lag the wall clock between two answers (probe spacing, a slow answer)."""


def parse_workloads(service: str, stdout: str) -> dict[str, Workload]:
    """The ``ffulab-dataplane:`` lines of one service's resources output."""
    found = {}
    for match in WORKLOAD_LINE.finditer(stdout):
        try:
            data = json.loads(match["json"])
            name = str(data.pop("name"))
            found[name] = Workload(service=service, **data)
        except (ValueError, KeyError, TypeError):
            continue  # the resources' own items say whether the workload is there
    return found


def poller_args(workloads: dict[str, Workload]) -> list[str]:
    """The poller's ``--icmp`` and ``--tcp`` arguments for the workloads."""
    args = []
    for name, workload in workloads.items():
        args += ["--icmp", f"{name}={workload.address}"]
        if workload.tcp:
            args += ["--tcp", f"{name}={workload.address}:{workload.tcp}"]
    return args


def _probe(
    previous: ProbeRecord | None, kind: str, target: str, samples: list[dict[str, Any]]
) -> ProbeRecord:
    record = previous.model_copy(deep=True) if previous else ProbeRecord(kind=kind, target=target)  # type: ignore[arg-type]
    record.windows = record.windows + windows(samples)
    times = [sample["t"] for sample in samples]
    if times:
        record.started = min(times) if record.started is None else record.started
        record.ended = max(times)
    record.samples += len(samples)
    record.lost += sum(not sample["ok"] for sample in samples)
    record.loss_percent = round(100.0 * record.lost / record.samples, 2) if record.samples else 0.0
    if record.windows:
        longest = max(record.windows, key=lambda w: w.end - w.start)
        record.longest, record.longest_window = round(longest.end - longest.start, 1), longest
    return record


def _paused_between(paused: list[Window], t0: float, t1: float) -> float:
    """Seconds of ``paused`` between ``t0`` and ``t1``: a paused guest's uptime does not run on."""
    return sum(max(0.0, min(w.end, t1) - max(w.start, t0)) for w in paused)


def _uptime(
    previous: UptimeRecord | None, samples: list[dict[str, Any]], paused: list[Window]
) -> UptimeRecord | None:
    """The uptime counter's first and last answers, and whether it ran on between every two of them
    (less the time ffulab had the lab paused between them)."""
    answers = [(s["t"], float(s["uptime"])) for s in samples if s.get("ok") and "uptime" in s]
    if previous:
        answers.insert(0, (previous.last_at, previous.last))
    if not answers:
        return previous
    continuous = previous.continuous if previous else True
    for (t0, u0), (t1, u1) in pairwise(answers):
        if u1 < u0 or (u1 - u0) < (t1 - t0) - _paused_between(paused, t0, t1) - UPTIME_SLACK:
            continuous = False
    first_at, first = (previous.first_at, previous.first) if previous else answers[0]
    last_at, last = answers[-1]
    return UptimeRecord(first=first, first_at=first_at, last=last, last_at=last_at, continuous=continuous)


def merge(
    previous: dict[str, Dataplane],
    workloads: dict[str, Workload],
    samples: list[dict[str, Any]],
    until: float | None,
    paused: list[Window] | None = None,
) -> dict[str, Dataplane]:
    """Every workload's record after one more run of the poller (samples after ``until``, or while
    ffulab had the lab ``paused`` for a snapshot, do not count)."""
    merged = dict(previous)
    paused = paused or []
    kept = [s for s in unpaused(samples, paused) if "probe" in s and (until is None or s["t"] <= until)]
    for name, workload in workloads.items():
        mine = [s for s in kept if s["probe"] == name]
        record = (
            previous[name].model_copy(deep=True)
            if name in previous
            else Dataplane(address=workload.address, server=workload.server, host=workload.host)
        )
        for kind in ("icmp", "tcp"):
            of_kind = [s for s in mine if s.get("kind") == kind]
            if of_kind or kind in record.probes:
                target = workload.address + (f":{workload.tcp}" if kind == "tcp" else "")
                record.probes[kind] = _probe(record.probes.get(kind), kind, target, of_kind)
        record.uptime = _uptime(record.uptime, [s for s in mine if s.get("kind") == "tcp"], paused)
        merged[name] = record
    return merged


def problems(dataplane: dict[str, Dataplane], max_outage: float, max_loss_percent: float) -> list[str]:
    """What breaks the data plane's promise: an outage or a loss beyond the limits, a reboot, no sample."""
    found = []
    for name, record in dataplane.items():
        icmp = record.probes.get("icmp")
        if not icmp or not icmp.samples:
            found.append(f"data plane {name}: no ping was sent")
        for probe in record.probes.values():
            if probe.longest > max_outage:
                found.append(
                    f"data plane {name} {probe.kind}: longest outage {probe.longest:.0f} s "
                    f"> {max_outage:.0f} s"
                )
            if probe.loss_percent > max_loss_percent:
                found.append(
                    f"data plane {name} {probe.kind}: {probe.lost}/{probe.samples} lost "
                    f"({probe.loss_percent}% > {max_loss_percent}%)"
                )
        if record.uptime and not record.uptime.continuous:
            found.append(f"data plane {name}: its uptime counter went back or stalled (rebooted?)")
        if "tcp" in record.probes and not record.uptime:
            found.append(f"data plane {name}: the responder never gave its uptime")
        if record.instance:
            found.append(f"data plane {name}: {record.instance}")
    return found


def describe(dataplane: dict[str, Dataplane]) -> str:
    """One line per workload for the progress output."""
    parts = []
    for name, record in dataplane.items():
        probes = ", ".join(
            f"{p.kind} {p.lost}/{p.samples} lost, longest {p.longest:.0f} s" for p in record.probes.values()
        )
        uptime = ""
        if record.uptime:
            uptime = f", uptime {record.uptime.first:.0f}->{record.uptime.last:.0f} s" + (
                "" if record.uptime.continuous else " (NOT continuous)"
            )
        parts.append(f"{name} {record.address}: {probes}{uptime}")
    return "; ".join(parts)
