"""``report.html``: the run for a person, one self-contained file (inline CSS and SVG, no script, no
external asset) that reads the same from a CI log server, a laptop or an air-gapped lab."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2

from ffulab.job.collect import LOGS_DIR
from ffulab.job.summary import outcome
from ffulab.job.timeline import build_timeline, clock

REPORT_FILE = "report.html"
ORDER = {"failed": 0, "missing": 1, "skipped": 2, "passed": 3}


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds)) if seconds else "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s" if value < 120 else f"{value:.0f} s ({clock(value)})"


def test_table(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """One row per test of ``kind`` (tempest, services) with its baseline and final outcome,
    regressions first, then failures, then the rest by name."""
    runs = {
        run: record["checks"][kind]["results"]
        for run, record in summary["validation"].items()
        if kind in record["checks"]
    }
    regressed = set(summary["regressions"])
    not_run = set(summary.get("not_run") or [])
    rows = [
        {
            "test": test,
            "baseline": runs.get("baseline", {}).get(test, "-" if "baseline" not in runs else "missing"),
            "final": runs.get("final", {}).get(
                test, "-" if "final" not in runs else "not run" if test in not_run else "missing"
            ),
            "regression": test in regressed,
        }
        for test in sorted({test for results in runs.values() for test in results})
    ]

    def rank(row: dict[str, Any]) -> tuple[bool, int, str]:
        worst = min(ORDER.get(row["final"], 1), ORDER.get(row["baseline"], 1))
        return (not row["regression"], worst, row["test"])

    return sorted(rows, key=rank)


def log_links(artifacts: Path) -> dict[str, list[str]]:
    """Every collected file, relative to the report, grouped by node (``ffulab`` for the workspace's)."""
    logs = artifacts / LOGS_DIR
    groups: dict[str, list[str]] = {}
    for path in sorted(logs.rglob("*")):
        if path.is_file():
            relative = path.relative_to(artifacts)
            group = relative.parts[1] if len(relative.parts) > 2 else "collection"
            groups.setdefault(group, []).append(relative.as_posix())
    return groups


def render_report(summary: dict[str, Any], artifacts: Path) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ffulab.job", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, seconds=_seconds, clock=clock, outcome=outcome)
    kinds = sorted({kind for record in summary["validation"].values() for kind in record["checks"]})
    return env.get_template("report.html.j2").render(
        s=summary,
        timeline=build_timeline(summary),
        tests={kind: test_table(summary, kind) for kind in kinds},
        logs=log_links(artifacts),
    )


def write_report(summary: dict[str, Any], artifacts: Path) -> Path:
    path = artifacts / REPORT_FILE
    path.write_text(render_report(summary, artifacts))
    return path
