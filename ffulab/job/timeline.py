"""The report's timeline as geometry: one row per phase, one per FFU release (its steps side by side),
one per API with its outages, one per workload probe (the data plane: watched span, lost windows) under
them, and any API's downtime as bands across all rows. Pure: the template
only draws it.

FFU steps without recorded start times are laid end to end from the start of the ``ffu`` phase,
which is how the engine runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WIDTH = 900
"""Pixels of the time axis (the row labels come on top of it)."""
TICK_STEPS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


@dataclass
class Bar:
    x: float
    width: float
    status: str
    label: str
    title: str


@dataclass
class Row:
    label: str
    kind: str
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Timeline:
    seconds: float
    rows: list[Row]
    downtime: list[Bar]
    ticks: list[tuple[float, str]]
    width: int = WIDTH


def clock(seconds: float) -> str:
    """``1h02m``, ``12m05s`` or ``42s``: short enough for an axis."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _ticks(span: float, scale: float) -> list[tuple[float, str]]:
    step = next((s for s in TICK_STEPS if span / s <= 8), TICK_STEPS[-1])
    return [(t * scale, clock(t)) for t in range(0, int(span) + 1, step)]


def _step_times(summary: dict[str, Any]) -> list[tuple[dict[str, Any], float, float]]:
    ffu = next((p for p in summary["phases"] if p["name"] == "ffu"), None)
    cursor = (ffu or {}).get("started")
    placed = []
    for step in summary["ffu_steps"]:
        if step["seconds"] is None:
            continue
        start = step["started"] or cursor
        if start is None:
            continue
        end = step["ended"] or start + step["seconds"]
        placed.append((step, start, end))
        cursor = end
    return placed


def _phase_end(phase: dict[str, Any], now: float) -> float:
    """When a phase ended; a phase still running (or killed) lasts until the summary was written."""
    if phase["ended"]:
        return phase["ended"]
    return phase["started"] + phase["seconds"] if phase["seconds"] is not None else now


def build_timeline(summary: dict[str, Any]) -> Timeline | None:
    """None when no phase has a start time (nothing ran)."""
    phases = [(p, p["started"], _phase_end(p, summary["written"])) for p in summary["phases"] if p["started"]]
    if not phases:
        return None
    steps = _step_times(summary)
    origin = min(start for _, start, _ in phases)
    span = max(1.0, max(end for _, _, end in phases + steps) - origin)
    scale = WIDTH / span

    def bar(start: float, end: float, status: str, title: str, label: str = "") -> Bar:
        x, width = (start - origin) * scale, max((end - start) * scale, 1.5)
        return Bar(x=round(x, 1), width=round(width, 1), status=status, label=label, title=title)

    rows = []
    for phase, start, end in phases:
        title = f"{phase['name']}: {phase['status']}, {clock(end - start)}"
        rows.append(Row(phase["name"], "phase", [bar(start, end, phase["status"], title)]))
    by_release: dict[str, Row] = {}
    for step, start, end in steps:
        release, final = step["release"], step["final"]
        row = by_release.setdefault(release, Row(f"final {release}" if final else f"ffu → {release}", "ffu"))
        name = "final deploy" if final else f"step {step['step']} {step['title']}"
        title = f"{release} {name}: {step['status']}, {clock(end - start)}"
        row.bars.append(bar(start, end, step["status"], title, "" if final else str(step["step"])))
    downtime, apis = [], []
    for api, record in sorted((summary.get("downtime") or {}).items()):
        row = Row(f"API {api}", "api")
        for window in record.get("windows") or []:
            end = window.get("end") or origin + span
            title = f"{api} API down {clock(end - window['start'])}"
            row.bars.append(bar(window["start"], end, "down", title))
            downtime.append(bar(window["start"], end, "down", title))
        apis.append(row)
    plane = []
    for name, record in sorted(((summary.get("dataplane") or {}).get("workloads") or {}).items()):
        for kind, probe in sorted((record.get("probes") or {}).items()):
            if probe.get("started") is None:
                continue
            row = Row(f"{name} {kind}", "dataplane")
            watched = f"{name} {kind} {probe['target']}: {probe['lost']}/{probe['samples']} lost"
            row.bars.append(bar(probe["started"], probe["ended"], "up", watched))
            for window in probe.get("windows") or []:
                title = f"{name} {kind} lost {clock(window['end'] - window['start'])}"
                row.bars.append(bar(window["start"], window["end"], "lost", title))
            plane.append(row)
    return Timeline(
        seconds=span,
        rows=rows + list(by_release.values()) + apis + plane,
        downtime=downtime,
        ticks=_ticks(span, scale),
    )
