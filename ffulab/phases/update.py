"""Phase ``update``: the minor update at N before the upgrade, as the TripleO FFU spec asks first.

With ``release.update_from`` (service -> an older point release of N) the lab was deployed at those
point releases; here each overcloud node in turn gets the deploy playbook at N's own pins (its venvs
unpacked, configuration switched, database synced, services restarted), one node at a time so the
others keep serving, with every API polled for downtime. Then the resources are verified and the
versions read from the nodes. Without ``update_from`` there is nothing to update.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ffulab.deploy.extravars import deploy_extravars
from ffulab.deploy.resources import verify_if_created
from ffulab.errors import PhaseError
from ffulab.ffu import downtime
from ffulab.phases.overcloud import deploy, lab_versions
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.state import UpdateRecord

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    config = ctx.resolved.config
    if not config.release.update_from:
        ctx.progress("no minor update in this release config (release.update_from)")
        return
    record = ctx.state.data.update
    if record is not None and record.status == "done":
        ctx.progress(f"the lab was updated to {config.release.overcloud}'s point releases already")
        return
    record = UpdateRecord(status="running", before=dict(ctx.state.data.overcloud.versions))
    ctx.state.update(update=record)
    extravars = deploy_extravars(ctx)  # the update is running: N's own pins
    layout = Layout.from_dict(ctx.state.data.layout)
    nodes = [layout.node(name).name for name, _ in config.overcloud_nodes()]
    started = time.monotonic()
    apis = ctx.state.data.overcloud.poll_urls()
    poller = downtime.Poller.start(lab_virthost(ctx), apis, ctx.workspace / "logs") if apis else None
    try:
        for node in nodes:
            mark = time.monotonic()
            ctx.progress(f"updating {node}")
            deploy(ctx, extravars, label=f"update-{node}", limit=f"{node},undercloud")
            record.nodes[node] = round(time.monotonic() - mark, 1)
            ctx.state.save()
    except Exception as exc:
        record.status = "failed"
        ctx.state.save()
        if isinstance(exc, PhaseError):
            raise
        raise PhaseError("update", str(exc), rerun=f"ffulab run -t update -w {ctx.workspace}") from exc
    finally:
        if poller:
            record.downtime = downtime.merge_all(record.downtime, apis, poller.stop(), None)
            ctx.state.save()
    record.after = lab_versions(ctx)
    ctx.state.data.overcloud.versions = dict(record.after)
    record.status, record.seconds = "done", round(time.monotonic() - started, 1)
    ctx.state.save()
    changed = ", ".join(
        f"{s} {record.before.get(s)} -> {v}" for s, v in record.after.items() if record.before.get(s) != v
    )
    ctx.progress(f"updated one node at a time: {changed or 'no version changed'}")
    verify_if_created(ctx, label=f"resources-verify-update-{config.release.overcloud}")
