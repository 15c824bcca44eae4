"""The rollback drill: TripleO's "complete or roll back", shown on the lab.

The FFU runs through step 4 of its first release (services stopped, repositories switched,
databases dumped); then ``playbooks/rollback.yml`` restores the dumps and deploys release N
again, and the resources made before the FFU are verified at N. The FFU state goes back to
its start, so the next ``ffulab ffu`` (or the rest of the phase) upgrades from step 1.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ffulab.deploy.ansible import run_playbook
from ffulab.deploy.extravars import deploy_extravars
from ffulab.deploy.resources import verify_if_created
from ffulab.errors import FfulabError, PhaseError
from ffulab.ffu.engine import FfuPlan, run_ffu
from ffulab.state import FfuRecord, RollbackDrill

if TYPE_CHECKING:
    from ffulab.context import Context

PLAYBOOK = "rollback.yml"
DRILL_STEP = 4
"""The backups are taken at step 4: the drill rolls back right after it."""


def rollback_drill(ctx: Context, plan: FfuPlan) -> None:
    first, base = plan.chain[1], plan.chain[0]
    started = time.monotonic()
    ctx.progress(f"rollback drill: the FFU through step {DRILL_STEP} of {first}, then back to {base}")
    run_ffu(ctx.state, plan, ctx.progress, first, 1, stop_after=(first, DRILL_STEP))
    ffu = ctx.state.data.ffu
    record = ffu.rollback_drill = RollbackDrill(release=first, restored=base, status="running")
    ctx.state.save()
    extravars = {**deploy_extravars(ctx, base), "backup_release": first}
    try:
        run_playbook(ctx.workspace, PLAYBOOK, extravars, ctx.progress, label=f"rollback-to-{base}")
        verified = verify_if_created(ctx, label=f"resources-verify-rollback-{base}")
    except FfulabError as exc:
        record.status, record.seconds, record.error = "failed", round(time.monotonic() - started, 1), str(exc)
        ctx.state.save()
        raise PhaseError(
            "ffu",
            f"the rollback drill to {base} failed: {exc}",
            rerun=f"ffulab ffu -w {ctx.workspace} --rollback-drill",
        ) from exc
    record.status, record.seconds, record.verified = "done", round(time.monotonic() - started, 1), verified
    record.steps = dict(ffu.steps)
    ctx.state.data.ffu = FfuRecord(chain=ffu.chain, before=ffu.before, rollback_drill=record)
    ctx.state.save()
    ctx.progress(
        f"rollback drill done in {record.seconds:.0f} s: the lab serves {base} again"
        + (f", {verified} resources verified" if verified else "")
    )
