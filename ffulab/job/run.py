"""``ffulab job run JOB``: the whole pipeline on a fresh lab, artifacts always, then the lab destroyed.

What a CI system needs from one command: exit 0 when the job passed, 1 when it failed (artifacts
written all the same, the lab kept with ``--keep-on-failure``), 2 when the job or a flag is wrong
(nothing created). The lab goes at the end unless ``--keep``; a lab that cannot be destroyed fails
the job, since it would hold the machine's resources for the next one.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ffulab.config.resolve import resolve
from ffulab.context import Context, artifacts_dir
from ffulab.errors import FfulabError, PhaseError, UsageError
from ffulab.job.artifacts import write_artifacts
from ffulab.job.report_html import REPORT_FILE
from ffulab.paths import default_workspace, directory, workspace_dir
from ffulab.phases import PHASE_NAMES
from ffulab.pipeline import run_phases, start_run
from ffulab.state import State
from ffulab.ui import console, error

log = logging.getLogger(__name__)


@dataclass
class JobRun:
    """One ``job run``: which job, where, and what to keep afterwards."""

    job: str
    workspace: Path | None = None
    artifacts: Path | None = None
    keep: bool = False
    keep_on_failure: bool = False
    reuse: bool = False
    """Keep the deployed lab for the next run of the job, and start from it when it is still valid."""
    extra_vars: list[str] = field(default_factory=list)
    virthost: str | None = None


def _say(line: str) -> None:
    console.print(line, markup=False)


def _detail(line: str) -> None:
    _say(f"  {line}")


def fresh_workspace(run: JobRun, job: str, lab: str, key: str | None = None) -> tuple[Path, bool]:
    """``-w`` or ``~/.ffulab/<job>``, and whether its lab is reused: a job never reuses a lab another
    run left there, but with ``--reuse`` a lab a ``--reuse`` run kept with the same key (a stale one is
    destroyed first)."""
    workspace = workspace_dir(run.workspace or default_workspace(job))
    if run.reuse and State.exists(workspace):
        from ffulab.job.reuse import reusable

        state = State.load(workspace)
        if state.data.reuse is not None:
            if key and reusable(state, key):
                return workspace, True
            _say(f"the kept lab in {workspace} was made from something else: destroying it")
            if not _destroy(workspace):
                raise UsageError(f"{workspace}: the stale kept lab could not be destroyed")
    if State.exists(workspace):
        raise UsageError(
            f"{workspace} already holds a lab ({lab}): a job runs on a fresh lab; "
            f"'ffulab destroy -w {workspace}' it or pass another -w"
        )
    return workspace, False


def _destroy(workspace: Path) -> bool:
    from ffulab.commands.destroy import destroy

    try:
        removed = destroy(workspace, progress=_detail)
    except FfulabError as exc:
        error(f"the lab in {workspace} could not be destroyed: {exc}")
        return False
    _say(f"lab destroyed ({len(removed)} resource(s)); logs and artifacts kept in {workspace}")
    return True


def _warm_start(ctx: Context, artifacts: Path) -> list[str]:
    """Revert the kept lab to its deployed snapshot; the phases still to run."""
    from ffulab.job.reuse import FIRST_PHASE, SNAPSHOT
    from ffulab.snapshot import revert

    shutil.rmtree(artifacts, ignore_errors=True)  # nothing of the last run may pass for this one's
    outcome = revert(ctx.state, SNAPSHOT, progress=_detail)
    ctx.state.update(reuse=None)
    _say(f"warm start: the kept lab is back at {SNAPSHOT} in {outcome.seconds.get('usable', 0):.0f}s")
    return list(PHASE_NAMES[PHASE_NAMES.index(FIRST_PHASE) :])


def _keep_for_reuse(ctx: Context, key: str) -> bool:
    """Power the lab off and record its key, when its deployed snapshot exists; else it goes."""
    from ffulab.job.reuse import reusable
    from ffulab.snapshot.lab import power_off

    ctx.state.update(reuse={"key": key, "kept_at": time.time()})
    if not reusable(ctx.state, key):
        ctx.state.update(reuse=None)
        return False
    try:
        power_off(ctx.state, progress=_detail)
    except FfulabError as exc:
        error(f"the lab could not be kept for the next run: {exc}")
        ctx.state.update(reuse=None)
        return False
    _say(f"lab kept for the next 'job run --reuse' (powered off; key {key[:12]})")
    return True


def _write_after_failure(ctx: Context, artifacts: Path, failure: BaseException) -> None:
    """The artifacts of a run an earlier phase stopped; a bug here must not keep the lab from going."""
    try:
        write_artifacts(ctx.workspace, ctx.state, artifacts, str(failure) or "interrupted", _detail)
    except Exception as exc:
        log.exception("writing the artifacts failed")
        error(f"writing the artifacts into {artifacts} failed: {exc}")


def run_job(run: JobRun) -> int:
    """Run the job; return the exit code. Anything but an FfulabError (Ctrl-C, a bug) goes on up once
    the artifacts are written and the lab destroyed or kept."""
    resolved = resolve(job=run.job, extra_vars=run.extra_vars)
    name = resolved.config.job.name if resolved.config.job else run.job
    key = None
    if run.reuse:
        from ffulab.job.reuse import reuse_key

        key = reuse_key(resolved, run.virthost)
    workspace, reused = fresh_workspace(run, name, resolved.config.lab.name, key)
    artifacts_option = directory(run.artifacts, "--artifacts") if run.artifacts else None
    state, log_path = start_run(resolved, workspace, run.virthost, "job")
    options = {"virthost": run.virthost, "artifacts": artifacts_option, "job": name}
    ctx = Context(resolved=resolved, state=state, workspace=workspace, options=options)
    artifacts = artifacts_dir(ctx)
    _say(f"job {name}: lab {resolved.config.lab.name} in {workspace} (log: {log_path})")
    started = time.monotonic()
    failure: BaseException | None = None
    try:
        if reused:  # the virthost first (its libvirtd), then the lab back at its deployed snapshot
            run_phases(ctx, ["config", "virthost"])
            run_phases(ctx, _warm_start(ctx, artifacts))
        else:
            run_phases(ctx, list(PHASE_NAMES))
    except BaseException as exc:  # whatever stopped the run, its artifacts are written and the lab goes
        failure = exc
        if isinstance(exc, FfulabError):
            error(str(exc))
        else:
            log.exception("the run stopped")
        if not (isinstance(exc, PhaseError) and exc.phase == "report"):  # else the phase wrote them
            _write_after_failure(ctx, artifacts, exc)
    result = (state.data.report or {}).get("result", "fail")
    passed = failure is None and result == "pass"
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in ctx.timings.items())
    _say(f"phase timings: {timings or '-'}")
    kept = run.keep or (not passed and run.keep_on_failure)
    if run.reuse and not kept and key:
        kept = _keep_for_reuse(ctx, key)
    destroyed = kept or _destroy(workspace)
    if kept:
        _say(f"lab kept in {workspace}: 'ffulab destroy -w {workspace}' removes it")
    _say(
        f"job {name}: {'PASS' if passed else 'FAIL'} in {time.monotonic() - started:.0f}s; "
        f"report: {artifacts / REPORT_FILE}"
    )
    if isinstance(failure, KeyboardInterrupt) and not kept:
        # not the usual "state saved, rerun to continue": there is no lab left to continue
        error(f"interrupted: the lab is destroyed; its logs and artifacts are kept in {workspace}")
        return 130
    if failure is not None and not isinstance(failure, FfulabError):
        raise failure  # Ctrl-C with the lab kept (exit 130), or a bug, once the lab is dealt with
    return 0 if passed and destroyed else 1
