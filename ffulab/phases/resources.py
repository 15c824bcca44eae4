"""Phase ``resources``: make the data that must survive the FFU (grenade's create), before it.

The mechanism (the playbook, its ``ffulab-resource:`` lines, verification after the FFU) is
:mod:`ffulab.deploy.resources`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.deploy.resources import apply, failure, lab_release

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    applied = apply(ctx, "create", label="resources-create")
    items, seconds, log_path = applied.items, applied.seconds, applied.log
    record = ctx.state.data.resources
    record.created = [item.key() for item in items if item.ok]
    record.workloads = applied.workloads
    record.seconds, record.created_at = seconds, lab_release(ctx)
    ctx.state.save()
    if not all(item.ok for item in items):
        raise failure(items, "create", log_path, f"ffulab run -t resources -w {ctx.workspace}")
    changed = sum(item.status != "ok" for item in items)
    ctx.progress(f"{len(items)} resource(s), {changed} created or updated, in {seconds:.0f} s")
    for name, workload in applied.workloads.items():
        server = f", server {workload.server}" if workload.server else ""
        ctx.progress(f"workload {name} ({workload.service}): {workload.address} on {workload.host}{server}")
