"""Phase ``ffu``: the lab from N to N+3 through the FFU engine, downtime measured, resources verified.

This module turns the lab (config, layout, mirror, settings) into an :class:`FfuPlan`, runs the
engine with the downtime poller beside it, and records what changed: the state's ``overcloud``
moves to N+3 (release, versions) once the final deploy is done, and the resources made before
the FFU are verified. ``ctx.options`` may hold ``from_release``/``from_step`` (a rerun) and
``rollback_drill`` (:mod:`ffulab.ffu.rollback`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ffulab.context import BACKUPS_DIR, artifacts_dir
from ffulab.deploy.ansible import PlaybookResult, run_playbook
from ffulab.deploy.extravars import deploy_extravars
from ffulab.deploy.resources import check_resources, failure, verify_if_created
from ffulab.errors import PhaseError
from ffulab.ffu import dataplane, downtime
from ffulab.ffu.diagnose import diagnose
from ffulab.ffu.engine import FfuPlan, run_ffu, step_key
from ffulab.ffu.positions import positions
from ffulab.phases.overcloud import lab_versions
from ffulab.provision.access import SSH_CONFIG
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.state import Versions

if TYPE_CHECKING:
    from ffulab.context import Context

log = logging.getLogger(__name__)


def build_plan(ctx: Context) -> FfuPlan:
    """The engine's view of this lab."""
    config, catalog = ctx.resolved.config, ctx.resolved.catalog
    layout = Layout.from_dict(ctx.state.data.layout)
    role_nodes: dict[str, list[str]] = {}
    for name, group in config.overcloud_nodes():
        role_nodes.setdefault(group.role, []).append(layout.node(name).name)
    ffu_services = [service.name for service in catalog.of_lab(config) if service.ffu]
    cached: dict[str, dict[str, Any]] = {}

    def extravars(release: str) -> dict[str, Any]:
        if release not in cached:
            cached[release] = {
                **deploy_extravars(ctx, release),
                "ffu_services": ffu_services,
                "ffulab_backups_dir": str(ctx.workspace / BACKUPS_DIR),
                "ffulab_ssh_config": str(ctx.workspace / SSH_CONFIG),
            }
        return cached[release]

    def run(playbook: str, variables: dict[str, Any], limit: str | None, label: str) -> PlaybookResult:
        return run_playbook(ctx.workspace, playbook, variables, ctx.progress, limit=limit, label=label)

    # the canary: the first node of the lab's last role (the computes when there are some: their
    # workloads are what a canary proves), else of its only role
    canary = list(role_nodes.values())[-1][0] if role_nodes and config.settings.ffu.canary else None
    return FfuPlan(
        chain=list(config.release.ffu_chain),
        role_nodes=role_nodes,
        extravars=extravars,
        run_playbook=run,
        active_steps={step for service in ffu_services for step in catalog[service].ffu},
        canary=canary,
        after_canary=(lambda node: _check_canary(ctx, node)) if canary else None,
        final_extra_hosts=["undercloud"],
        snapshot=lambda release: _snapshot(ctx, release),
        checkpoint=(lambda position: _checkpoint(ctx, position)) if _rolling(ctx) else None,
        rerun=f"ffulab ffu -w {ctx.workspace}",
        path=config.release.path,
        parallel=config.settings.ffu.parallel,
    )


def _check_canary(ctx: Context, node: str) -> str:
    """The canary at N+3 with the control plane: every resource (the workloads on it among them)
    verified before any other node of its role moves; a failure raises and leaves them at N."""
    release = ctx.resolved.config.release.ffu_chain[-1]
    if not ctx.state.data.resources.created:
        found = "no resources were created before the FFU, nothing to check on it"
        ctx.progress(f"canary {node}: {found}")
        return found
    verified, items, log_path = check_resources(ctx, label=f"resources-canary-{node}")
    if verified["failed"]:
        raise failure(
            items,
            f"verify on the canary {node}",
            log_path,
            f"ffulab ffu -w {ctx.workspace} --from-step final",
        )
    found = f"{verified['items']} resource(s) verified at {release}"
    ctx.progress(f"canary {node}: {found}, the others follow")
    return found


ROLLING = "ffu-step"


def _rolling(ctx: Context) -> bool:
    """The rolling snapshot: as the settings say, else on unless a job runs (CI pays for every second)."""
    setting = ctx.resolved.config.settings.snapshots.rolling
    return setting if setting is not None else not ctx.options.get("job")


def _checkpoint(ctx: Context, position: tuple[str, int]) -> None:
    from ffulab.snapshot import auto_snapshot

    auto_snapshot(ctx, ROLLING, release=position[0], step=position[1])


def _snapshot(ctx: Context, release: str) -> None:
    """``ffu-<release>`` once the release is done; the release before's goes (settings.snapshots)."""
    from ffulab.snapshot import auto_snapshot, drop_superseded

    if not auto_snapshot(ctx, f"ffu-{release}", release=release):
        return
    chain = ctx.resolved.config.release.ffu_chain
    previous = chain.index(release) - 1
    if previous >= 1:
        drop_superseded(ctx, f"ffu-{chain[previous]}", f"ffu-{release}", "keep_releases")


def run(ctx: Context) -> None:
    plan = build_plan(ctx)
    options = ctx.options
    ffu = ctx.state.data.ffu
    rerun = options.get("from_release") or options.get("from_step")
    if ffu.status == "done" and not rerun and not options.get("rollback_drill"):
        ctx.progress(f"the FFU is done: the lab is at {plan.chain[-1]}")
        verified = ctx.state.data.resources.verified
        if not verified or verified["release"] != plan.chain[-1] or verified["failed"]:
            # the upgrade ended but its verification did not pass (or never ran): a rerun checks again
            verify_if_created(ctx, label=f"resources-verify-{plan.chain[-1]}")
        return
    if not ffu.steps:
        _record_before(ctx)
        _snapshot_ready(ctx, plan)
    if _drill_wanted(ctx):
        from ffulab.ffu.rollback import rollback_drill

        with _downtime(ctx, plan, drill=True):
            rollback_drill(ctx, plan)
        if options.get("rollback_drill"):
            return  # `ffulab ffu --rollback-drill`: the lab stays at N
    with _downtime(ctx, plan):
        try:
            run_ffu(ctx.state, plan, ctx.progress, options.get("from_release"), options.get("from_step"))
        except PhaseError:
            _collect_logs(ctx)
            raise
    _record_after(ctx, plan)
    verify_if_created(ctx, label=f"resources-verify-{plan.chain[-1]}")


def _drill_wanted(ctx: Context) -> bool:
    if ctx.options.get("rollback_drill"):
        return True
    setting = ctx.resolved.config.settings.ffu.rollback_drill
    drill = ctx.state.data.ffu.rollback_drill
    done = drill is not None and drill.status == "done"
    return setting and not done and not (ctx.options.get("from_release") or ctx.options.get("from_step"))


def _record_before(ctx: Context) -> None:
    overcloud = ctx.state.data.overcloud
    if not overcloud.release:
        raise PhaseError(
            "ffu", "the overcloud is not deployed yet", rerun=f"ffulab run -t overcloud -w {ctx.workspace}"
        )
    ctx.state.data.ffu.before = Versions(release=overcloud.release, versions=overcloud.versions)
    ctx.state.save()


def _snapshot_ready(ctx: Context, plan: FfuPlan) -> None:
    """``ffu-ready``: the lab just before step 1, where ``--from-release <first> --from-step 1`` reverts."""
    from ffulab.snapshot import auto_snapshot

    auto_snapshot(ctx, "ffu-ready", release=plan.chain[1], step=1)


@contextmanager
def _downtime(ctx: Context, plan: FfuPlan, drill: bool = False) -> Iterator[None]:
    """Poll every public API and every workload's data plane while the block runs; record what the
    poller saw even when the block fails.

    The FFU's outages go to ``ffu.downtime[api]`` and ``ffu.dataplane[workload]`` (added up over
    resumed runs), the drill's to ``ffu.rollback_drill``.
    """
    urls = ctx.state.data.overcloud.poll_urls()
    workloads = ctx.state.data.resources.workloads
    if not urls and not workloads:
        ctx.progress("no public API nor workload in this lab: downtime is not measured")
        yield
        return
    if workloads:
        ctx.progress(f"data plane watched: {', '.join(f'{n} {w.address}' for n, w in workloads.items())}")
    poller = downtime.Poller.start(
        lab_virthost(ctx), urls, ctx.workspace / "logs", dataplane.poller_args(workloads)
    )
    try:
        yield
    finally:
        samples = poller.stop()
        ffu = ctx.state.data.ffu
        final = ffu.steps.get(step_key(positions(plan.chain, plan.path)[-1]))
        until = final.ended if final and final.status == "done" and not drill else None
        holder = ffu.rollback_drill if drill and ffu.rollback_drill else ffu
        still = ctx.state.data.stood_still()
        counted = downtime.unpaused(samples, still)
        holder.downtime = downtime.merge_all(holder.downtime, urls, counted, until)
        holder.dataplane = dataplane.merge(holder.dataplane, workloads, samples, until, still)
        found = diagnose(ctx.workspace, ctx.resolved.catalog, workloads, holder.dataplane)
        ctx.state.save()
        prefix = "rollback drill: " if drill else ""
        if urls:
            outages = ", ".join(
                f"{api} {record.seconds:.0f} s in {len(record.windows)} window(s)"
                for api, record in holder.downtime.items()
            )
            ignored = len(samples) - len(counted)
            during = f", {ignored} while ffulab paused the lab for a snapshot, not counted" if ignored else ""
            ctx.progress(
                f"{prefix}control-plane downtime: {outages} ({len(samples)} samples{during}; {poller.path})"
            )
        if workloads:
            ctx.progress(f"{prefix}data plane: {dataplane.describe(holder.dataplane)}")
        for name, line in found.items():
            ctx.progress(f"{prefix}data plane {name} was still down at the end: {line}")


def _collect_logs(ctx: Context) -> None:
    """A failed step: every node's journal, service logs and configs into the artifacts (redacted)."""
    from ffulab.job.collect import collect_logs

    artifacts = artifacts_dir(ctx)
    try:
        collect_logs(ctx.workspace, ctx.state.data, artifacts, ctx.progress)
    except Exception:  # the step's failure is what the user must see, not the collector's
        log.exception("collecting the logs of the failed step failed")
        return
    ctx.progress(f"logs of the failed step collected in {artifacts / 'logs'}")


def _record_after(ctx: Context, plan: FfuPlan) -> None:
    """The lab is at N+3 now: the state's ``overcloud`` says so (validation reads it)."""
    release = plan.chain[-1]
    versions = lab_versions(ctx)
    overcloud = ctx.state.data.overcloud
    overcloud.release, overcloud.versions = release, versions
    ctx.state.data.ffu.after = Versions(release=release, versions=versions)
    ctx.state.save()
    ctx.progress(f"the lab is at {release}: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
