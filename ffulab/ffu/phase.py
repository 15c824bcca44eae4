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

from ffulab.deploy.ansible import run_playbook
from ffulab.deploy.overcloud_phase import deploy_extravars
from ffulab.deploy.resources_phase import verify_if_created
from ffulab.errors import PhaseError
from ffulab.ffu import downtime
from ffulab.ffu.engine import FfuPlan, run_ffu, step_key
from ffulab.ffu.positions import positions
from ffulab.pipeline import BACKUPS_DIR, artifacts_dir
from ffulab.provision.access import SSH_CONFIG
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout

if TYPE_CHECKING:
    from ffulab.pipeline import Context

log = logging.getLogger(__name__)


def build_plan(ctx: Context) -> FfuPlan:
    """The engine's view of this lab."""
    config, catalog = ctx.resolved.config, ctx.resolved.catalog
    layout = Layout.from_dict(ctx.state.get("layout"))
    role_nodes: dict[str, list[str]] = {}
    for name, group in config.overcloud_nodes():
        role_nodes.setdefault(group.role, []).append(layout.node(name).name)
    services = {service for role in config.lab.roles.values() for service in role.services}
    ffu_services = sorted(service for service in services if catalog[service].ffu)
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

    def run(playbook: str, variables: dict[str, Any], limit: str | None, label: str) -> Any:
        return run_playbook(ctx.workspace, playbook, variables, ctx.progress, limit=limit, label=label)

    first_node = next(iter(role_nodes.values()))[0] if role_nodes else None
    return FfuPlan(
        chain=list(config.release.ffu_chain),
        role_nodes=role_nodes,
        extravars=extravars,
        run_playbook=run,
        active_steps={step for service in ffu_services for step in catalog[service].ffu},
        canary=first_node if config.settings.ffu.canary else None,
        final_extra_hosts=["undercloud"],
        snapshot=lambda release: _snapshot(ctx, release),
        rerun=f"ffulab ffu -w {ctx.workspace}",
    )


def _snapshot(ctx: Context, release: str) -> None:
    from ffulab.snapshot import auto_snapshot

    auto_snapshot(ctx, f"ffu-{release}", release=release)


def run(ctx: Context) -> None:
    plan = build_plan(ctx)
    options = ctx.options
    ffu = ctx.state.get("ffu") or {}
    rerun = options.get("from_release") or options.get("from_step")
    if ffu.get("status") == "done" and not rerun and not options.get("rollback_drill"):
        ctx.progress(f"the FFU is done: the lab is at {plan.chain[-1]}")
        return
    if not ffu.get("steps"):
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
    done = (ctx.state.get("ffu") or {}).get("rollback_drill", {}).get("status") == "done"
    return setting and not done and not (ctx.options.get("from_release") or ctx.options.get("from_step"))


def _record_before(ctx: Context) -> None:
    overcloud = ctx.state.get("overcloud") or {}
    if not overcloud.get("release"):
        raise PhaseError(
            "ffu", "the overcloud is not deployed yet", rerun=f"ffulab run -t overcloud -w {ctx.workspace}"
        )
    ffu = ctx.state.get("ffu") or {}
    ffu["before"] = {"release": overcloud["release"], "versions": overcloud.get("versions", {})}
    ctx.state.set("ffu", ffu)


def _snapshot_ready(ctx: Context, plan: FfuPlan) -> None:
    """``ffu-ready``: the lab just before step 1, where ``--from-release <first> --from-step 1`` reverts."""
    from ffulab.snapshot import auto_snapshot

    auto_snapshot(ctx, "ffu-ready", release=plan.chain[1], step=1)


@contextmanager
def _downtime(ctx: Context, plan: FfuPlan, drill: bool = False) -> Iterator[None]:
    """Poll the public API while the block runs; record the outages even when it fails.

    The FFU's outages go to ``ffu.downtime`` (added up over resumed runs), the drill's to
    ``ffu.rollback_drill.downtime``.
    """
    url = (ctx.state.get("overcloud") or {}).get("keystone_url")
    if not url:
        ctx.progress("no public API in this lab: control-plane downtime is not measured")
        yield
        return
    poller = downtime.Poller.start(lab_virthost(ctx), url, ctx.workspace / "logs")
    try:
        yield
    finally:
        samples = poller.stop()
        ffu = ctx.state.get("ffu") or {}
        final = ffu.get("steps", {}).get(step_key(positions(plan.chain)[-1]), {})
        until = final.get("ended") if final.get("status") == "done" and not drill else None
        holder = ffu.setdefault("rollback_drill", {}) if drill else ffu
        holder["downtime"] = record = downtime.merge(holder.get("downtime"), poller.url, samples, until)
        ctx.state.set("ffu", ffu)
        ctx.progress(
            f"{'rollback drill: ' if drill else ''}control-plane downtime {record['seconds']:.0f} s in "
            f"{len(record['windows'])} window(s) ({record['samples']} samples; {poller.path})"
        )


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
    config = ctx.resolved.config
    release = plan.chain[-1]
    versions = dict(config.series[release].services)
    overcloud = ctx.state.get("overcloud") or {}
    overcloud.update(release=release, versions=versions)
    ctx.state.set("overcloud", overcloud)
    ffu = ctx.state.get("ffu") or {}
    ffu["after"] = {"release": release, "versions": versions}
    ctx.state.set("ffu", ffu)
    ctx.progress(f"the lab is at {release}: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
