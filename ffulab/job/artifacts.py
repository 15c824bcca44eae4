"""The run's artifacts (summary.json, junit.xml, report.html, logs/), all from the lab's state.

Phase ``report`` writes them; the job runner calls :func:`write_artifacts` itself when an earlier
phase failed, so a failed run has the same artifacts as a passing one.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ffulab.context import BACKUPS_DIR
from ffulab.job.collect import collect_logs
from ffulab.job.junit import write_junit
from ffulab.job.report_html import write_report
from ffulab.job.summary import build_summary
from ffulab.secrets import redact_tree, secret_values
from ffulab.state import LabState, State

SUMMARY_FILE = "summary.json"
VALIDATE_DIR = "validate"


def gather_junit(summary: dict[str, Any], workspace: Path, artifacts: Path) -> None:
    """Bring each validation's JUnit file under ``artifacts`` (``validate/<run>/``) and point the
    summary at it relative to ``artifacts``, so the directory can be published as it is."""
    for run, record in summary["validation"].items():
        for check in record["checks"].values():
            if not check.get("junit"):
                continue
            given = Path(check["junit"])
            source = next((p for p in (given, artifacts / given, workspace / given) if p.is_file()), given)
            if source.resolve().is_relative_to(artifacts):
                check["junit"] = source.resolve().relative_to(artifacts).as_posix()
            elif source.is_file():
                target = artifacts / VALIDATE_DIR / run / source.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                check["junit"] = target.relative_to(artifacts).as_posix()


def publish_backups(
    workspace: Path, state: LabState, artifacts: Path, progress: Callable[[str], None]
) -> None:
    """Copy ``WS/backups`` into ``artifacts/backups`` only when the job set
    ``settings.artifacts.publish_backups``: the dumps hold credentials and password hashes, and the
    artifacts are what CI publishes."""
    settings = ((state.config or {}).get("config") or {}).get("settings") or {}
    source = workspace / BACKUPS_DIR
    if not (settings.get("artifacts") or {}).get("publish_backups") or not source.is_dir():
        return
    shutil.copytree(source, artifacts / BACKUPS_DIR, dirs_exist_ok=True)
    progress(f"database backups published in {artifacts / BACKUPS_DIR} (settings.artifacts.publish_backups)")


def write_artifacts(
    workspace: Path,
    state: State,
    artifacts: Path,
    error: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Write every artifact of the run from the lab's state; return the summary."""
    artifacts.mkdir(parents=True, exist_ok=True)
    summary = build_summary(state.data, error)
    gather_junit(summary, workspace, artifacts)
    collect_logs(workspace, state.data, artifacts, progress)
    publish_backups(workspace, state.data, artifacts, progress)
    (artifacts / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    write_junit(summary, artifacts)
    report = write_report(summary, artifacts)
    redact_tree(artifacts, secret_values(workspace))  # every file, whatever wrote it: CI publishes them
    state.update(report={"result": summary["result"], "artifacts": str(artifacts), "written": time.time()})
    progress(f"{summary['result']}: {report}")
    return summary
