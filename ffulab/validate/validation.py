"""Validate one lab: Tempest and the service checks, JUnit into the artifacts, counts into the state.

``validate()`` is what ``ffulab validate``, the ``baseline`` phase (at N, before the FFU) and the
``validate`` phase (at N+3) run. Each writes ``<workspace>/artifacts/validate/<label>/`` with
``junit-tempest.xml`` and ``junit-services.xml`` and records under the state's ``validate`` key::

    {"baseline": R, "final": R}
    R = {"release", "ok", "tempest": C, "services": C}   (a check the job does not run: None)
        + "not_run": [test_id] in a final R: the baseline's tests this run did not select (not compared)
    C = {"passed", "failed", "skipped", "seconds", "junit", "results": {test_id: status}}
        + "selected": [test_id] for Tempest: what its regex selected

then fails (exit 1) when a test failed, once everything is written.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ffulab.config.resolve import Resolved, resolve
from ffulab.config.schema import VALIDATIONS
from ffulab.deploy.credentials import admin_credentials
from ffulab.deploy.resources import check_resources
from ffulab.errors import FfulabError
from ffulab.paths import data_root
from ffulab.secrets import redact_tree, secret_values
from ffulab.state import State
from ffulab.validate import junit
from ffulab.validate.compare import compare
from ffulab.validate.services import run_services
from ffulab.validate.tempest_conf import render, tempest_settings
from ffulab.validate.tempest_run import run_tempest
from ffulab.validate.tempest_venv import ensure_tempest
from ffulab.virthost import Remote

Progress = Callable[[str], None]
STATE_KEY = "validate"
LABELS = ("baseline", "final")
KINDS = ("tempest", "services", "resources")
"""What a validation runs (the job's ``validations``), each with its counts."""
ARTIFACTS = Path("artifacts") / "validate"
WORK = Path("validate")
"""Private run directories in the workspace (tempest.conf holds the admin password)."""
CONSTRAINTS_DIR = Path("release-configs") / "constraints"
SHOWN_FAILURES = 10


class ValidationFailed(FfulabError):
    """Tests failed; the JUnit files and the state say which. ``result`` is the recorded R."""

    def __init__(self, label: str, result: dict[str, Any], regressed: list[str]):
        self.label, self.result, self.regressed = label, result, regressed
        failing = [
            test
            for kind in KINDS
            for test, status in ((result.get(kind) or {}).get("results") or {}).items()
            if status == "failed"
        ]
        lines = [f"{label} validation at {result['release']} failed: {summary(result)}"]
        lines += [f"  failed: {test}" for test in failing[:SHOWN_FAILURES]]
        if len(failing) > SHOWN_FAILURES:
            lines.append(f"  ... and {len(failing) - SHOWN_FAILURES} more (see the JUnit files)")
        lines += [
            f"  {problem}: a validation that ran nothing proves nothing"
            for problem in result.get("problems", [])
        ]
        lines += [f"  regression (passed at the baseline): {test}" for test in regressed]
        super().__init__("\n".join(lines))


def summary(result: dict[str, Any]) -> str:
    """``tempest 40 passed, 0 failed, 2 skipped; services ...``: the counts people read first."""
    parts = []
    for kind in KINDS:
        check = result.get(kind)
        if check is not None:
            parts.append(
                f"{kind} {check['passed']} passed, {check['failed']} failed, {check['skipped']} skipped "
                f"({check['seconds']:.0f} s)"
            )
    if result.get("not_run"):
        parts.append(f"{len(result['not_run'])} test(s) of the baseline not run (not selected: not compared)")
    return "; ".join(parts) or "nothing to check"


def recorded_config(state: State) -> Resolved:
    """The lab's config from the layers and overrides its run recorded (its files as they are now)."""
    recorded = state.data.config or {}
    files = recorded.get("files") or {}
    if not {"release", "lab", "nodes"} <= set(files):
        raise FfulabError(f"{state.path}: no recorded config: run the lab with 'ffulab run' first")
    return resolve(
        job=files.get("job"),
        release=files["release"],
        lab=files["lab"],
        nodes=files["nodes"],
        extra_vars=recorded.get("overrides") or [],
    )


def label_for(resolved: Resolved, release: str) -> str:
    """``baseline`` while the overcloud runs N, ``final`` once the FFU has moved it on."""
    return "baseline" if release == resolved.config.release.ffu_chain[0] else "final"


def tempest_regex(resolved: Resolved) -> str | None:
    """The job's regex, else the tests the lab's services name (one alternation); None: no test."""
    job = resolved.config.job
    if job and job.tempest_regex:
        return job.tempest_regex
    parts = [s.tempest.regex for s in resolved.catalog.of_lab(resolved.config) if s.tempest.regex]
    return "|".join(f"(?:{part})" for part in parts) if len(parts) > 1 else (parts[0] if parts else None)


def _tempest(state: State, resolved: Resolved, regex: str, out: Path, progress: Progress) -> dict[str, Any]:
    config = resolved.config
    spec = config.tempest
    if spec is None:
        raise FfulabError("the config pins no Tempest (tempest: in release-configs/common.yml)")
    virthost = state.data.virthost or {}
    if virthost.get("kind") == Remote.kind:
        # Tempest runs on this client; the lab's APIs are on the virthost's bridges, out of its reach
        raise FfulabError(
            f"Tempest cannot reach the lab on virthost {virthost.get('spec')} from this client (it runs "
            "here, the lab's networks are there): run this lab's validations without tempest"
        )
    overcloud = state.data.overcloud
    constraints = data_root() / CONSTRAINTS_DIR / config.series[spec.constraints].constraints
    venv = ensure_tempest(spec.version, constraints, progress)
    series = list(config.series)
    services = {service.name: service.tempest for service in resolved.catalog.of_lab(config)}
    credentials = admin_credentials(state.workspace, overcloud.identity_url)
    work = state.workspace / WORK / out.name
    settings = tempest_settings(
        credentials, services, series, overcloud.release, work, spec.service_available
    )
    netns = (state.data.virthost or {}).get("netns")
    path = out / "junit-tempest.xml"
    started = time.monotonic()
    try:
        selected = run_tempest(
            venv, render(settings), work, regex, path,
            netns=netns, concurrency=spec.concurrency, progress=progress,
        )  # fmt: skip
    finally:  # tempest.conf holds the admin password: written again for each run, kept for none
        (work / "etc" / "tempest.conf").unlink(missing_ok=True)
        redact_tree(work, secret_values(state.workspace))
    seconds = round(time.monotonic() - started, 1)
    log = work / "tempest.log"
    if log.is_file():
        shutil.copyfile(log, out / "tempest.log")
    return {**_counts(path), "seconds": seconds, "junit": str(path), "selected": selected}


def _services(state: State, out: Path, progress: Progress) -> dict[str, Any]:
    nodes = [node for node in (state.data.layout or {}).get("nodes", []) if node["role"] != "undercloud"]
    path = out / "junit-services.xml"
    started = time.monotonic()
    run_services(state.workspace, path, len(nodes), progress)
    return {**_counts(path), "seconds": round(time.monotonic() - started, 1), "junit": str(path)}


def _resources(state: State, resolved: Resolved, workspace: Path, progress: Progress) -> dict[str, Any]:
    """The resources made before the FFU, each checked where the lab is now (a check per item)."""
    from ffulab.context import Context

    if not state.data.resources.created:
        return {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0, "junit": None, "results": {}}
    ctx = Context(resolved=resolved, state=state, workspace=workspace, progress=progress)
    verified, items, _ = check_resources(ctx, label=f"resources-verify-{state.data.overcloud.release}")
    results = {f"{item.service}.{item.kind}.{item.name}": "passed" if item.ok else "failed" for item in items}
    failed = sum(status == "failed" for status in results.values())
    return {
        "passed": len(results) - failed,
        "failed": failed,
        "skipped": 0,
        "seconds": verified["seconds"],
        "junit": None,
        "results": results,
    }


def _counts(path: Path) -> dict[str, Any]:
    counted = junit.count(path)
    return {key: counted[key] for key in ("passed", "failed", "skipped", "results")}


def _run(
    state: State,
    resolved: Resolved,
    workspace: Path,
    validations: list[str],
    regex: str | None,
    out: Path,
    progress: Progress,
) -> dict[str, Any]:
    """Each validation the job enables, counted; R without the comparison with the baseline."""
    overcloud = state.data.overcloud
    result: dict[str, Any] = {"release": overcloud.release, "ok": False, **dict.fromkeys(KINDS)}
    if "tempest" in validations:
        chosen = regex or tempest_regex(resolved)
        if not overcloud.identity_url:
            raise FfulabError("the job validates with Tempest but the lab has no identity API to test")
        if not chosen:
            raise FfulabError(
                "the job validates with Tempest but selects no test: set its tempest_regex, or name the "
                "tests in roles/<service>/ffulab.yml (tempest.regex), or drop tempest from its validations"
            )
        result["tempest"] = _tempest(state, resolved, chosen, out, progress)
    if "services" in validations:
        result["services"] = _services(state, out, progress)
    if "resources" in validations:
        result["resources"] = _resources(state, resolved, workspace, progress)
    checks = {kind: result[kind] for kind in KINDS if result[kind] is not None}
    result["problems"] = [
        f"{kind} ran no test ({check['skipped']} skipped)"
        for kind, check in checks.items()
        if not check["passed"] and not check["failed"]
    ]
    result["ok"] = all(check["failed"] == 0 for check in checks.values()) and not result["problems"]
    return result


def validate(
    workspace: Path,
    regex: str | None = None,
    progress: Progress = print,
    *,
    label: str | None = None,
    resolved: Resolved | None = None,
    state: State | None = None,
) -> dict[str, Any]:
    """Validate the lab at ``workspace``; return R (see the module doc), raise ValidationFailed if not ok.

    ``regex`` overrides the job's ``tempest_regex``; ``label`` (baseline | final) is taken from the
    deployed release when not given; ``resolved`` is the lab's config (default: as its run recorded it);
    ``state`` the lab's state when the caller holds it (a phase: the pipeline saves it after the phase,
    so the record must go into that very object).
    """
    state = state or State.load(workspace)
    resolved = resolved or recorded_config(state)
    overcloud = state.data.overcloud
    if not overcloud.release:
        raise FfulabError(f"{workspace}: no overcloud deployed yet: run the overcloud phase first")
    label = label or label_for(resolved, overcloud.release)
    if label not in LABELS:
        raise FfulabError(f"unknown validation label '{label}'; labels are {', '.join(LABELS)}")
    job = resolved.config.job
    validations = job.validations if job else list(VALIDATIONS)
    out = workspace / ARTIFACTS / label
    shutil.rmtree(out, ignore_errors=True)  # nothing of an earlier run may pass for this one's
    out.mkdir(parents=True)
    try:
        result = _run(state, resolved, workspace, validations, regex, out, progress)
    finally:  # whatever a check printed (a failing command, a response body), no secret reaches CI
        redact_tree(out, secret_values(workspace))
    baseline = state.data.validations.get("baseline")
    compared = compare(baseline, result) if label == "final" and baseline else {}
    regressed = compared.get("regressions", [])
    if compared:
        result["not_run"] = compared["not_run"]
    state.data.validations[label] = result
    state.save()
    progress(f"{label} at {result['release']}: {summary(result)}")
    for test in regressed:
        progress(f"regression: {test} passed at the baseline")
    if not result["ok"] or regressed:
        raise ValidationFailed(label, result, regressed)
    return result
