"""``summary.json``: what a CI system or a person needs from a run, derived from the lab's state alone.

Every other artifact (junit.xml, report.html) is built from this summary plus the files it
names, so the three never disagree. A phase or step the run never reached is ``not run``.
"""

from __future__ import annotations

import time
from typing import Any

from ffulab.catalog import FFU_STEPS
from ffulab.config.schema import DataplaneSettings
from ffulab.ffu import dataplane
from ffulab.ffu.positions import is_final, positions
from ffulab.phases import PHASE_NAMES
from ffulab.state import LabState, PhaseRecord, StepRecord, Versions

FORMAT = 2
"""summary.json's shape: 2 has downtime per API, the data plane and the warnings (1: one downtime record)."""
REPORT_PHASE = "report"
"""Left out of the summary: it is the phase writing it, still running."""
NOT_RUN = "not run"
VALIDATION_RUNS = ("baseline", "final")
CHECK_KINDS = ("tempest", "services", "resources")
PASSED = frozenset({"passed", "pass", "success", "ok"})
FAILED = frozenset({"failed", "fail", "failure", "error"})
SKIPPED = frozenset({"skipped", "skip"})


def outcome(status: str | None) -> str:
    """A test's status as one word of passed / failed / skipped, whatever runner reported it."""
    word = (status or "").lower()
    if word in PASSED:
        return "passed"
    if word in SKIPPED:
        return "skipped"
    return "failed" if word in FAILED else word or "missing"


def _compared(baseline: dict[str, Any], final: dict[str, Any]) -> dict[str, list[str]]:
    """Validation's own comparison: ``regressions`` (passed at the baseline, failed or, selected, without
    a result after the FFU) and ``not_run`` (baseline tests the final run did not select: not compared)."""
    from ffulab.validate.compare import compare

    return compare(baseline, final)


def _phases(state: LabState) -> list[dict[str, Any]]:
    rows = []
    for name in PHASE_NAMES:
        if name == REPORT_PHASE:
            continue
        entry = state.phases.get(name) or PhaseRecord(status=NOT_RUN)
        rows.append(
            {"name": name, **entry.model_dump(include={"status", "seconds", "started", "ended", "error"})}
        )
    return rows


def _ffu_steps(state: LabState) -> list[dict[str, Any]]:
    chain = state.chain
    if len(chain) < 2:
        return []
    rows = []
    for release, step in positions(chain, state.ffu.path):
        entry = state.ffu.steps.get(f"{release}/{step}") or StepRecord(status=NOT_RUN)
        final = is_final((release, step))
        rows.append(
            {
                "release": release,
                "step": step,
                "final": final,
                "title": "final deploy" if final else FFU_STEPS[step],
                **entry.model_dump(),
            }
        )
    return rows


def _versions(state: LabState) -> dict[str, Any]:
    """Each service's version as the nodes held it at N (before) and after the FFU (empty until done)."""
    before, after = state.ffu.before, state.ffu.after
    if before is None and state.chain and state.overcloud.release == state.chain[0]:
        before = Versions(release=state.overcloud.release, versions=state.overcloud.versions)
    update = state.update
    return {
        "release_before": before.release if before else None,
        "release_after": after.release if after else None,
        "deployed": dict(update.before) if update else (dict(before.versions) if before else {}),
        "updated": dict(update.after) if update and update.status == "done" else {},
        "before": dict(before.versions) if before else {},
        "after": dict(after.versions) if after else {},
    }


def _count(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _validation(state: LabState) -> dict[str, Any]:
    """Per run (baseline, final) and kind (tempest, services): counts, seconds, JUnit path, results."""
    runs: dict[str, Any] = {}
    for run in VALIDATION_RUNS:
        record = state.validations.get(run)
        if not record:
            continue
        runs[run] = {"release": record.get("release"), "ok": record.get("ok"), "checks": {}}
        for kind in CHECK_KINDS:
            check = record.get(kind)
            if check is None:
                continue
            runs[run]["checks"][kind] = {
                "passed": check.get("passed", 0),
                "failed": check.get("failed", 0),
                "skipped": check.get("skipped", 0),
                "seconds": check.get("seconds"),
                "junit": check.get("junit"),
                "results": {test: outcome(status) for test, status in (check.get("results") or {}).items()},
            }
    return runs


def _resources(state: LabState) -> dict[str, Any]:
    return {"created": list(state.resources.created), "verified": state.resources.verified}


def _dataplane(state: LabState, config: dict[str, Any]) -> dict[str, Any]:
    """Each workload's data plane through the FFU, its limits and what broke them."""
    limits = DataplaneSettings.model_validate(
        ((config.get("settings") or {}).get("ffu") or {}).get("dataplane") or {}
    )
    records = state.ffu.dataplane
    return {
        "workloads": {name: record.model_dump() for name, record in records.items()},
        "limits": limits.model_dump(),
        "problems": dataplane.problems(records, limits.max_outage, limits.max_loss_percent),
    }


def failure_reasons(
    phases: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    validation: dict[str, Any],
    regressions: list[str],
    verified: dict[str, Any],
    error: str | None,
    dataplane_problems: list[str] = (),  # type: ignore[assignment]
) -> list[str]:
    """Why the run fails, one line each; none when it passes."""
    reasons = [f"phase {row['name']} failed" for row in phases if row["status"] == "failed"]
    reasons += [f"FFU {row['release']} {row['title']} failed" for row in steps if row["status"] == "failed"]
    if error and not reasons:
        reasons.append(f"stopped: {error.splitlines()[0]}")
    missing = [row["name"] for row in phases if row["status"] == NOT_RUN and row["name"] != "config"]
    if missing and not reasons:
        reasons.append(f"incomplete: {', '.join(missing)} not run")
    reasons += [f"{run} validation not ok" for run, record in validation.items() if record["ok"] is False]
    if regressions:
        reasons.append(f"{len(regressions)} test(s) passed at the baseline and not after the FFU")
    if verified.get("failed"):
        reasons.append(f"{len(verified['failed'])} resource(s) did not survive the FFU")
    reasons += dataplane_problems
    return reasons


def build_summary(state: LabState, error: str | None = None) -> dict[str, Any]:
    """The run's summary from the lab's state; ``error`` is what stopped the run, if anything.

    The run passes when every phase ran (``config`` is resolution itself) and none failed, nor any FFU
    step, nothing stopped it, every validation is ok, no test regressed between the baseline and the
    final validation and every resource survived.
    """
    recorded = state.config or {}
    config, files = recorded.get("config") or {}, recorded.get("files") or {}
    phases = _phases(state)
    steps = _ffu_steps(state)
    validation = _validation(state)
    validate = state.validations
    compared = (
        _compared(validate["baseline"], validate["final"])
        if validate.get("baseline") and validate.get("final")
        else {"regressions": [], "not_run": []}
    )
    regressions = compared["regressions"]
    resources = _resources(state)
    verified = resources["verified"] or {}
    plane = _dataplane(state, config)
    reasons = failure_reasons(phases, steps, validation, regressions, verified, error, plane["problems"])
    started = [row["started"] for row in phases if row["started"]]
    ended = [row["ended"] for row in phases if row["ended"]]
    job = config.get("job") or {}
    return {
        "format": FORMAT,
        "job": {
            "name": job.get("name"),
            "description": job.get("description", ""),
            "release": (config.get("release") or {}).get("name"),
            "path": (config.get("release") or {}).get("path", "ffu"),
            "lab": (config.get("lab") or {}).get("name"),
            "nodes": (config.get("nodes") or {}).get("name"),
            "files": files,
            "overrides": recorded.get("overrides", []),
        },
        "result": "fail" if reasons else "pass",
        "reasons": reasons,
        "error": error,
        "started": min(started) if started else None,
        "ended": max(ended) if ended else None,
        "written": time.time(),
        "versions": _versions(state),
        "phases": phases,
        "ffu_steps": steps,
        "downtime": {api: record.model_dump() for api, record in state.ffu.downtime.items()},
        "dataplane": plane,
        "warnings": list(state.warnings),
        "update": state.update.model_dump() if state.update else None,
        "checks": {
            release: {
                service: {name: check.model_dump() for name, check in checks.items()}
                for service, checks in services.items()
            }
            for release, services in state.ffu.checks.items()
        },
        "validation": validation,
        "resources": resources,
        "regressions": regressions,
        "not_run": compared["not_run"],
        "counts": {
            "phases": _count(phases),
            "ffu_steps": _count(steps),
            "tests": {
                f"{run}.{kind}": {key: check[key] for key in ("passed", "failed", "skipped")}
                for run, record in validation.items()
                for kind, check in record["checks"].items()
            },
            "resources": {
                "created": len(resources["created"]),
                "verified": verified.get("items"),
                "failed": len(verified.get("failed") or []),
            },
            "regressions": len(regressions),
            "not_run": len(compared["not_run"]),
        },
    }
