"""``ffulab ffu``: (re)run the FFU phase of an existing lab, from where it stopped or from a step.

``--from-release R --from-step S`` first reverts the lab to the newest snapshot at or before
that point (``ffu-ready`` before step 1, ``ffu-<release>`` after each release) and runs from the
snapshot's point, so the lab is exactly as the FFU left it there; ``--no-revert`` reruns from
R/S on the lab as it is (after a fix made by hand).
"""

from __future__ import annotations

from pathlib import Path

from ffulab.ffu.positions import next_index, positions, step_name
from ffulab.pipeline import recorded_run, run_phases
from ffulab.snapshot import newest_snapshot_at_or_before, revert
from ffulab.snapshot.records import DONE_STEP
from ffulab.state import State
from ffulab.ui import console, detail


def ffu_command(
    workspace: Path,
    from_release: str | None = None,
    from_step: int | None = None,
    no_revert: bool = False,
    rollback_drill: bool = False,
) -> int:
    ctx, log_path = recorded_run(workspace, "ffu")
    state, resolved = ctx.state, ctx.resolved
    chain, path = list(resolved.config.release.ffu_chain), resolved.config.release.path
    if (from_release or from_step is not None) and not no_revert:
        release = from_release or chain[1]
        if from_step is None:
            from_step = next(step for r, step in positions(chain, path) if r == release)
        from_release, from_step = _revert_to_start(state, chain, path, release, from_step)
    ctx.options.update(from_release=from_release, from_step=from_step, rollback_drill=rollback_drill)
    try:
        run_phases(ctx, ["ffu"])
    finally:
        console.print(f"ffu phase: {ctx.timings.get('ffu', 0):.1f}s; log: {log_path}")
    return 0


def _revert_to_start(
    state: State, chain: list[str], path: str, release: str, step: int | None
) -> tuple[str, int]:
    """Revert to the newest snapshot at or before (release, step); the position to run from."""
    record = newest_snapshot_at_or_before(state, release, step)
    position = (record or {}).get("ffu")
    if not record or not position:
        detail(
            f"no FFU snapshot at or before {release} {step_name(step)}: running from there on the lab as is"
        )
        return release, step
    outcome = revert(state, record["name"], progress=detail)
    start = (position["release"], position["step"])
    if start[1] == DONE_STEP:
        order = positions(chain, path)
        start = order[next_index(order, *start)]
    console.print(
        f"lab back at snapshot [bold]{record['name']}[/] in {outcome.seconds['reverted']:.1f}s; "
        f"the FFU runs from {start[0]} {step_name(start[1])}"
        + ("" if start == (release, step) else f" to reach {release} {step_name(step)}")
    )
    return start
