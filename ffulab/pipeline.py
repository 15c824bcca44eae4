"""Run the selected phases in pipeline order, timing each and recording it in the state.

The order and each phase's module and snapshot are :data:`ffulab.phases.PHASES`; this module only
walks them, records each phase before and after it runs, and takes the automatic snapshots.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ffulab.config.resolve import Resolved
from ffulab.context import Context
from ffulab.errors import FfulabError, PhaseError, UsageError
from ffulab.host_stalls import watched
from ffulab.logs import start_log
from ffulab.paths import remember_workspace
from ffulab.phases import BY_NAME, Phase
from ffulab.state import State
from ffulab.ui import console, phase_progress

log = logging.getLogger(__name__)


def start_run(resolved: Resolved, workspace: Path, virthost: str | None, log_name: str) -> tuple[State, Path]:
    """Open (or start) the lab's state for a run of its pipeline; its log. ``run`` and ``job run``."""
    state = State.open(workspace, resolved.config.lab.name)
    log_path = start_log(workspace, log_name)
    check_same_nodes(state, resolved)
    remember_workspace(workspace)
    state.update(config=resolved.to_dict())
    if virthost:
        state.update(virthost_spec=virthost)
    return state, log_path


def recorded_run(workspace: Path, log_name: str, options: dict | None = None) -> tuple[Context, Path]:
    """A command on a lab made before (``ffulab ffu``, ``ffulab update``): its state, its config as its
    run recorded it, the lab held and a log started."""
    from ffulab.config.resolve import resolve_recorded

    state = State.load(workspace)
    resolved = resolve_recorded(state.data.config or {})
    log_path = start_log(workspace, log_name)
    console.print(f"lab [bold]{resolved.config.lab.name}[/] in {workspace} (log: {log_path})")
    return Context(resolved=resolved, state=state, workspace=workspace, options=options or {}), log_path


def check_same_nodes(state: State, resolved: Resolved) -> None:
    """A provisioned lab keeps its nodes: a run resolving other ones (a forgotten ``-N``) is refused."""
    recorded = state.data.config
    if not state.data.layout or not recorded:
        return
    old, new = recorded["config"]["nodes"], resolved.config.nodes.model_dump(mode="json")
    if old == new:
        return
    was, now = recorded["files"].get("nodes"), resolved.files.get("nodes")
    other = f"nodes {new['name']} ({now})" if new["name"] != old["name"] else "other values for them (-e?)"
    raise UsageError(
        f"{state.workspace} was provisioned with nodes {old['name']} ({was}); this run resolves {other}: "
        f"pass the flags it was made with (-N {was}, same -j/-R/-c/-e), "
        f"or 'ffulab destroy -w {state.workspace}' first"
    )


def run_phases(ctx: Context, phases: list[str]) -> None:
    """Run ``phases`` in order, seconds per phase into ``ctx.timings``. The first failure stops the run."""
    ctx.phases = list(phases)
    with watched(ctx.state):
        for phase in phases:
            _run_phase(ctx, phase)


def _run_phase(ctx: Context, phase: str) -> None:
    """One phase: timed, recorded before and after, its automatic snapshot taken."""
    timings = ctx.timings
    started = time.monotonic()
    run = BY_NAME[phase].runner()
    ctx.state.mark_phase(phase, "running", started=time.time())
    log.info("phase %s: start", phase)
    with phase_progress(phase) as progress:
        ctx.progress = progress
        try:
            run(ctx)
        except FfulabError as exc:
            seconds = time.monotonic() - started
            timings[phase] = round(seconds, 1)
            error = _with_nodes_down(ctx, phase, exc)
            ctx.state.mark_phase(phase, "failed", seconds=round(seconds, 1), error=str(error))
            log.error("phase %s failed after %.1fs: %s", phase, seconds, error)
            if error is exc and isinstance(exc, PhaseError):
                raise
            raise error from exc
    seconds = time.monotonic() - started
    timings[phase] = round(seconds, 1)
    ctx.state.mark_phase(phase, "done", seconds=round(seconds, 1), ended=time.time())
    log.info("phase %s: done in %.1fs", phase, seconds)
    console.print(f"[green]✓[/] {phase:<10} {seconds:6.1f}s")
    _auto_snapshot(ctx, BY_NAME[phase])


def _with_nodes_down(ctx: Context, phase: str, exc: FfulabError) -> FfulabError:
    """``exc``, naming the nodes the phase needs that libvirt says are not running (a killed QEMU shows
    up first as an SSH error: ``ffulab.provision.liveness``)."""
    from ffulab.provision.liveness import down_note

    note = down_note(ctx.state, phase)
    if isinstance(exc, PhaseError):
        return PhaseError(exc.phase, exc.problem + note, exc.rerun) if note else exc
    return PhaseError(phase, str(exc) + note)


def _auto_snapshot(ctx: Context, phase: Phase) -> None:
    """The phase's automatic snapshot, if it has one, and the one it supersedes dropped."""
    from ffulab.snapshot import auto_snapshot, drop_superseded

    if not phase.snapshot:
        return
    with phase_progress("snapshot") as progress:
        ctx.progress = progress
        if auto_snapshot(ctx, phase.snapshot):
            console.print(f"[green]✓[/] snapshot   {phase.snapshot}")
            if phase.supersedes:
                drop_superseded(ctx, phase.supersedes, phase.snapshot, "keep_superseded")
