"""``summary.json``: what a CI system or a person needs from a run, derived from the lab's state alone.

Every other artifact (junit.xml, report.html) is built from this summary plus the files it
names, so the three never disagree. A phase or step the run never reached is ``not run``.
"""

from __future__ import annotations

import time
from typing import Any

from ffulab.config.services import FFU_STEPS
from ffulab.ffu.positions import is_final, positions
from ffulab.phases import PHASE_NAMES

FORMAT = 1
REPORT_PHASE = "report"
"""Left out of the summary: it is the phase writing it, still running."""
NOT_RUN = "not run"
VALIDATION_RUNS = ("baseline", "final")
CHECK_KINDS = ("tempest", "services")
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


def _phases(state: dict[str, Any]) -> list[dict[str, Any]]:
    recorded = state.get("phases") or {}
    rows = []
    for name in PHASE_NAMES:
        if name == REPORT_PHASE:
            continue
        entry = recorded.get(name) or {}
        rows.append(
            {
                "name": name,
                "status": entry.get("status", NOT_RUN),
                "seconds": entry.get("seconds"),
                "started": entry.get("started"),
                "ended": entry.get("ended"),
                "error": entry.get("error"),
            }
        )
    return rows


def _chain(state: dict[str, Any]) -> list[str]:
    ffu = state.get("ffu") or {}
    release = ((state.get("config") or {}).get("config") or {}).get("release") or {}
    return list(ffu.get("chain") or release.get("ffu_chain") or [])


def _ffu_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    chain = _chain(state)
    if len(chain) < 2:
        return []
    recorded = (state.get("ffu") or {}).get("steps") or {}
    rows = []
    for release, step in positions(chain):
        entry = recorded.get(f"{release}/{step}") or {}
        final = is_final(chain, (release, step))
        rows.append(
            {
                "release": release,
                "step": step,
                "final": final,
                "title": "final deploy" if final else FFU_STEPS[step],
                "status": entry.get("status", NOT_RUN),
                "seconds": entry.get("seconds"),
                "started": entry.get("started"),
                "ended": entry.get("ended"),
            }
        )
    return rows


def _versions(state: dict[str, Any]) -> dict[str, Any]:
    """Service versions at N (before) and after the FFU; ``after`` stays empty until the FFU is done."""
    config = (state.get("config") or {}).get("config") or {}
    release = config.get("release") or {}
    ffu = state.get("ffu") or {}
    at_n = release.get("overcloud")
    before = (ffu.get("before") or {}).get("versions") or (
        (config.get("series") or {}).get(at_n, {}).get("services", {})
    )
    overcloud = state.get("overcloud") or {}
    chain = _chain(state)
    after = (ffu.get("after") or {}).get("versions")
    if after is None and chain and overcloud.get("release") == chain[-1] and chain[-1] != at_n:
        after = overcloud.get("versions")
    return {
        "release_before": at_n,
        "release_after": chain[-1] if after else None,
        "before": dict(before),
        "after": dict(after or {}),
    }


def _count(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _validation(state: dict[str, Any]) -> dict[str, Any]:
    """Per run (baseline, final) and kind (tempest, services): counts, seconds, JUnit path, results."""
    validate = state.get("validate") or {}
    runs: dict[str, Any] = {}
    for run in VALIDATION_RUNS:
        record = validate.get(run)
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


def _resources(state: dict[str, Any]) -> dict[str, Any]:
    resources = state.get("resources")
    if not isinstance(resources, dict):  # before the resources phase: no record yet
        return {"created": [], "verified": None}
    return {"created": list(resources.get("created") or []), "verified": resources.get("verified")}


def failure_reasons(
    phases: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    validation: dict[str, Any],
    regressions: list[str],
    verified: dict[str, Any],
    error: str | None,
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
    return reasons


def build_summary(state: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    """The run's summary from the lab's ``state.json`` data; ``error`` is what stopped the run, if anything.

    The run passes when every phase ran (``config`` is resolution itself) and none failed, nor any FFU
    step, nothing stopped it, every validation is ok, no test regressed between the baseline and the
    final validation and every resource survived.
    """
    config = (state.get("config") or {}).get("config") or {}
    files = (state.get("config") or {}).get("files") or {}
    phases = _phases(state)
    steps = _ffu_steps(state)
    validation = _validation(state)
    validate = state.get("validate") or {}
    compared = (
        _compared(validate["baseline"], validate["final"])
        if validate.get("baseline") and validate.get("final")
        else {"regressions": [], "not_run": []}
    )
    regressions = compared["regressions"]
    resources = _resources(state)
    verified = resources["verified"] or {}
    reasons = failure_reasons(phases, steps, validation, regressions, verified, error)
    started = [row["started"] for row in phases if row["started"]]
    ended = [row["ended"] for row in phases if row["ended"]]
    job = config.get("job") or {}
    return {
        "format": FORMAT,
        "job": {
            "name": job.get("name"),
            "description": job.get("description", ""),
            "release": (config.get("release") or {}).get("name"),
            "lab": (config.get("lab") or {}).get("name"),
            "nodes": (config.get("nodes") or {}).get("name"),
            "files": files,
            "overrides": (state.get("config") or {}).get("overrides", []),
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
        "downtime": (state.get("ffu") or {}).get("downtime"),
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
