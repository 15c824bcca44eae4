"""Run the selected phases in pipeline order, timing each and recording it in the state.

Each phase lives in its own module with ``run(ctx)``; ``RUNNERS`` maps phase names to
them. A phase whose module does not exist yet stops the run with a message naming it.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffulab.config.resolve import Resolved
from ffulab.errors import FfulabError, NotImplementedPhase, PhaseError, UsageError
from ffulab.logs import start_log
from ffulab.paths import remember_workspace
from ffulab.state import State
from ffulab.ui import console, phase_progress

log = logging.getLogger(__name__)

RUNNERS: dict[str, str] = {
    "virthost": "ffulab.virthost.phase",
    "image": "ffulab.image.phase",
    "provision": "ffulab.provision.phase",
    "bmc": "ffulab.bmc.phase",
    "undercloud": "ffulab.deploy.undercloud_phase",
    "overcloud": "ffulab.deploy.overcloud_phase",
    "resources": "ffulab.deploy.resources_phase",
    "baseline": "ffulab.validate.baseline_phase",
    "ffu": "ffulab.ffu.phase",
    "validate": "ffulab.validate.phase",
    "report": "ffulab.job.report_phase",
}
"""Phase name -> module providing ``run(ctx: Context) -> None`` (``config`` is resolve itself)."""

AUTO_SNAPSHOTS: dict[str, str] = {
    "undercloud": "undercloud-ready",
    "overcloud": "overcloud-deployed",
    "validate": "validated",
}
"""Phase name -> the lab snapshot taken once it is done (off with ``settings.snapshots.auto: false``)."""


@dataclass
class Context:
    """What every phase gets: the resolved config, the lab's state and workspace, options."""

    resolved: Resolved
    state: State
    workspace: Path
    options: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda line: None


ARTIFACTS_DIR = "artifacts"
BACKUPS_DIR = "backups"
"""``WS/backups/<release>/<node>/``: FFU step 4's database dumps (credentials, password hashes), 0700.
They stay with the lab; the artifacts get a copy only if a job sets settings.artifacts.publish_backups."""


def artifacts_dir(ctx: Context) -> Path:
    """Where a run's artifacts go: ``--artifacts DIR`` of ``ffulab job run``, else the workspace's."""
    return Path(ctx.options.get("artifacts") or ctx.workspace / ARTIFACTS_DIR).resolve()


def start_run(resolved: Resolved, workspace: Path, virthost: str | None, log_name: str) -> tuple[State, Path]:
    """Open (or start) the lab's state for a run of its pipeline; its log. ``run`` and ``job run``."""
    state = State.open(workspace, resolved.config.lab.name)
    log_path = start_log(workspace, log_name)
    check_same_nodes(state, resolved)
    remember_workspace(workspace)
    state.set("config", resolved.to_dict())
    if virthost:
        state.set("virthost_spec", virthost)
    return state, log_path


def check_same_nodes(state: State, resolved: Resolved) -> None:
    """A provisioned lab keeps its nodes: a run resolving other ones (a forgotten ``-N``) is refused."""
    recorded = state.get("config") or {}
    if not state.get("layout") or not recorded:
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


def runner(phase: str) -> Callable[[Context], None]:
    module_name = RUNNERS[phase]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise NotImplementedPhase(phase) from None
        raise
    return module.run


def run_phases(ctx: Context, phases: list[str]) -> None:
    """Run ``phases`` in order, seconds per phase into ``ctx.timings``. The first failure stops the run."""
    timings = ctx.timings
    for phase in phases:
        started = time.monotonic()
        if phase == "config":
            timings[phase] = 0.0
            ctx.state.mark_phase(phase, "done", seconds=0.0)
            console.print(f"[green]✓[/] config  resolved ({ctx.resolved.files.get('job', 'flags')})")
            continue
        run = runner(phase)
        ctx.state.mark_phase(phase, "running", started=time.time())
        log.info("phase %s: start", phase)
        with phase_progress(phase) as progress:
            ctx.progress = progress
            try:
                run(ctx)
            except FfulabError as exc:
                seconds = time.monotonic() - started
                timings[phase] = round(seconds, 1)
                ctx.state.mark_phase(phase, "failed", seconds=round(seconds, 1), error=str(exc))
                log.error("phase %s failed after %.1fs: %s", phase, seconds, exc)
                if isinstance(exc, PhaseError | NotImplementedPhase):
                    raise
                raise PhaseError(phase, str(exc)) from exc
        seconds = time.monotonic() - started
        timings[phase] = round(seconds, 1)
        ctx.state.mark_phase(phase, "done", seconds=round(seconds, 1), ended=time.time())
        log.info("phase %s: done in %.1fs", phase, seconds)
        console.print(f"[green]✓[/] {phase:<10} {seconds:6.1f}s")
        if phase in AUTO_SNAPSHOTS:
            _auto_snapshot(ctx, AUTO_SNAPSHOTS[phase])


def _auto_snapshot(ctx: Context, name: str) -> None:
    from ffulab.snapshot import auto_snapshot

    with phase_progress("snapshot") as progress:
        ctx.progress = progress
        if auto_snapshot(ctx, name):
            console.print(f"[green]✓[/] snapshot   {name}")
