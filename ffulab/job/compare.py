"""``ffulab job compare RUN_A RUN_B``: two runs of a lab side by side, e.g. the FFU walk and the SLURP hop.

The question an operator planning an upgrade asks: which path costs what. From the two runs'
``summary.json`` alone: time per phase, each API's downtime, the resources verified, Tempest's and the
service checks' results and the tests whose outcome differs, each run's regressions. Printed, and
written as one HTML file that loads nothing.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffulab.errors import UsageError
from ffulab.job.artifacts import SUMMARY_FILE
from ffulab.job.summary import FORMAT


@dataclass
class Run:
    """One run's artifacts directory and its summary."""

    directory: Path
    summary: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Run:
        path = directory / SUMMARY_FILE
        try:
            summary = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"{directory}: no {SUMMARY_FILE}: give a run's artifacts directory") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: unreadable: {exc}") from None
        found = summary.get("format") if isinstance(summary, dict) else None
        if found != FORMAT:
            raise UsageError(
                f"{path}: format {found}, this ffulab compares format {FORMAT}: "
                "rerun that job with this ffulab (or compare it with the ffulab that made it)"
            )
        return cls(directory, summary)

    @property
    def label(self) -> str:
        job = self.summary["job"]
        versions = self.summary["versions"]
        return (
            f"{job.get('name') or self.directory.name} ({job.get('path', 'ffu')}, "
            f"{versions.get('release_before')} -> {versions.get('release_after') or 'not reached'})"
        )

    def phase_seconds(self) -> dict[str, float | None]:
        return {row["name"]: row["seconds"] for row in self.summary["phases"]}

    def downtime(self) -> dict[str, float]:
        return {api: record["seconds"] for api, record in (self.summary.get("downtime") or {}).items()}

    def outcomes(self, run: str = "final") -> dict[str, str]:
        checks = (self.summary["validation"].get(run) or {}).get("checks", {})
        return {
            f"{kind}: {test}": status
            for kind, check in checks.items()
            for test, status in check["results"].items()
        }

    def counts(self) -> dict[str, dict[str, int]]:
        return self.summary["counts"]["tests"]


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f}s"


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    return f"{b - a:+.0f}s"


def compare(a: Run, b: Run) -> dict[str, Any]:
    """The comparison as data: what both the text and the HTML show."""
    phases_a, phases_b = a.phase_seconds(), b.phase_seconds()
    apis = sorted(set(a.downtime()) | set(b.downtime()))
    outcomes_a, outcomes_b = a.outcomes(), b.outcomes()
    differing = sorted(
        (test, outcomes_a.get(test, "not run"), outcomes_b.get(test, "not run"))
        for test in set(outcomes_a) | set(outcomes_b)
        if outcomes_a.get(test) != outcomes_b.get(test)
    )
    resources = {run.label: run.summary["counts"]["resources"] for run in (a, b)}
    return {
        "runs": [a.label, b.label],
        "results": [a.summary["result"], b.summary["result"]],
        "same_lab": a.summary["job"].get("lab") == b.summary["job"].get("lab"),
        "phases": [
            (name, phases_a.get(name), phases_b.get(name)) for name in dict.fromkeys([*phases_a, *phases_b])
        ],
        "downtime": [(api, a.downtime().get(api), b.downtime().get(api)) for api in apis],
        "resources": resources,
        "tests": {
            kind: (a.counts().get(kind), b.counts().get(kind))
            for kind in sorted(set(a.counts()) | set(b.counts()))
        },
        "differing": differing,
        "regressions": [a.summary.get("regressions", []), b.summary.get("regressions", [])],
    }


def render_text(data: dict[str, Any]) -> str:
    a, b = data["runs"]
    lines = [f"A: {a}  [{data['results'][0]}]", f"B: {b}  [{data['results'][1]}]"]
    if not data["same_lab"]:
        lines.append("note: the two runs are of different labs")
    lines += ["", f"{'phase':<12} {'A':>8} {'B':>8} {'B-A':>8}"]
    lines += [f"{name:<12} {_fmt(x):>8} {_fmt(y):>8} {_delta(x, y):>8}" for name, x, y in data["phases"]]
    lines += ["", f"{'API downtime':<12} {'A':>8} {'B':>8} {'B-A':>8}"]
    lines += [f"{api:<12} {_fmt(x):>8} {_fmt(y):>8} {_delta(x, y):>8}" for api, x, y in data["downtime"]]
    lines += ["", "resources (created / verified / failed):"]
    lines += [
        f"  {run}: {c['created']} / {c['verified']} / {c['failed']}" for run, c in data["resources"].items()
    ]
    lines += ["", "tests (passed / failed / skipped):"]
    for kind, (x, y) in data["tests"].items():
        show = [f"{c['passed']}/{c['failed']}/{c['skipped']}" if c else "-" for c in (x, y)]
        lines.append(f"  {kind:<20} A {show[0]:<12} B {show[1]}")
    if data["differing"]:
        lines += ["", "final outcomes that differ (A -> B):"]
        lines += [f"  {test}: {x} -> {y}" for test, x, y in data["differing"]]
    for name, found in zip(("A", "B"), data["regressions"], strict=True):
        if found:
            lines += ["", f"regressions of {name}:", *(f"  {test}" for test in found)]
    return "\n".join(lines) + "\n"


def render_html(data: dict[str, Any]) -> str:
    esc = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{esc(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><tr>{cells}</tr>{body}</table>"

    a, b = data["runs"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ffulab: two runs compared</title>",
        "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head><body>",
        f"<h1>Two runs compared</h1><p>A: {esc(a)} [{esc(data['results'][0])}]<br>B: {esc(b)} "
        f"[{esc(data['results'][1])}]</p>",
        "<h2>Time per phase</h2>",
        table(
            ["phase", "A", "B", "B-A"], [[n, _fmt(x), _fmt(y), _delta(x, y)] for n, x, y in data["phases"]]
        ),
        "<h2>Downtime per API</h2>",
        table(
            ["API", "A", "B", "B-A"], [[n, _fmt(x), _fmt(y), _delta(x, y)] for n, x, y in data["downtime"]]
        ),
        "<h2>Resources</h2>",
        table(
            ["run", "created", "verified", "failed"],
            [[run, c["created"], c["verified"], c["failed"]] for run, c in data["resources"].items()],
        ),
        "<h2>Tests</h2>",
        table(
            ["check", "A passed/failed/skipped", "B passed/failed/skipped"],
            [
                [kind, *(f"{c['passed']}/{c['failed']}/{c['skipped']}" if c else "-" for c in pair)]
                for kind, pair in data["tests"].items()
            ],
        ),
        "<h2>Final outcomes that differ</h2>",
        table(["test", "A", "B"], [list(row) for row in data["differing"]])
        if data["differing"]
        else "<p>none</p>",
        "<h2>Regressions</h2>",
        table(
            ["run", "test"],
            [[name, test] for name, found in zip("AB", data["regressions"], strict=True) for test in found],
        )
        if any(data["regressions"])
        else "<p>none</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def compare_runs(run_a: Path, run_b: Path, html_path: Path) -> tuple[str, Path]:
    """Compare the two artifacts directories; write the HTML; return the text and the HTML's path."""
    data = compare(Run.load(run_a), Run.load(run_b))
    html_path.write_text(render_html(data))
    return render_text(data), html_path
