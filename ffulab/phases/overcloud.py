"""Phase ``overcloud``: deploy the lab's services at release N with ``playbooks/overcloud.yml``.

The variables (release, artifacts on the undercloud's mirror, generated passwords and keys) come
from :mod:`ffulab.deploy.extravars`; the admin credentials are written to ``<workspace>/overcloudrc``
(0600) and, by the playbook, to the undercloud (clouds.yaml with cloud ``overcloud``, overcloudrc).
The record says what the nodes run, as read from them (:mod:`ffulab.deploy.versions`), and where
each API answers.

With ``settings.deploy.idempotence: true`` the playbook runs a second time, as molecule's
idempotence step does, and the phase fails if that run changed anything.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from ffulab.deploy.ansible import PlaybookResult, run_playbook
from ffulab.deploy.credentials import write_overcloudrc
from ffulab.deploy.extravars import deploy_extravars, log_safe
from ffulab.deploy.versions import installed_versions
from ffulab.errors import PhaseError
from ffulab.provision.layout import Layout
from ffulab.state import OvercloudRecord

if TYPE_CHECKING:
    from ffulab.context import Context

log = logging.getLogger(__name__)

PLAYBOOK = "overcloud.yml"


def deploy(
    ctx: Context, extravars: dict[str, Any], label: str = "overcloud", limit: str | None = None
) -> PlaybookResult:
    """Run the deploy playbook with ``extravars`` (logged with every secret masked)."""
    log.debug("%s variables: %s", label, json.dumps(log_safe(ctx.workspace, extravars), sort_keys=True))
    return run_playbook(ctx.workspace, PLAYBOOK, extravars, ctx.progress, limit=limit, label=label)


def lab_versions(ctx: Context) -> dict[str, str]:
    """What the nodes run now, service by service (read from the nodes)."""
    layout = Layout.from_dict(ctx.state.data.layout)
    return installed_versions(ctx.workspace, ctx.resolved.config, ctx.resolved.catalog, layout)


def run(ctx: Context) -> None:
    config = ctx.resolved.config
    extravars = deploy_extravars(ctx)
    first = deploy(ctx, extravars)
    record = OvercloudRecord(
        release=config.release.overcloud,
        versions=lab_versions(ctx),
        apis={service: api["url"] for service, api in extravars["apis"].items()},
        polls={service: api["poll"] for service, api in extravars["apis"].items()},
        seconds=first.seconds,
        changed=first.changed,
        tasks=first.tasks,
        steps=first.steps,
        deployed_at=time.time(),
    )
    if "identity" in extravars:
        path = write_overcloudrc(ctx.workspace, extravars["overcloud_rc"])
        record.identity_url, record.overcloudrc = extravars["identity"]["url"], str(path)
        ctx.progress(f"identity {record.identity_url}; credentials in {path}")
    ctx.progress(
        "running " + (", ".join(f"{s} {v}" for s, v in record.versions.items()) or "no OpenStack service")
    )
    ctx.state.update(overcloud=record)
    ctx.state.warn(first.warnings)
    for warning in first.warnings:
        ctx.progress(f"warning: {warning}")
    if config.settings.deploy.idempotence:
        second = deploy(ctx, extravars, label="overcloud-idempotence")
        record.idempotence = {"seconds": second.seconds, "changed": second.changed}
        ctx.state.save()
        if second.changed:
            changed = [f"{t['host']}: {t['task']}" for t in second.tasks if t["changed"]]
            raise PhaseError(
                "overcloud",
                "not idempotent: the second deploy changed " + "; ".join(changed),
                rerun=f"ffulab run -t overcloud -w {ctx.workspace}",
            )
        ctx.progress(f"idempotence: a second deploy changed nothing ({second.seconds:.0f} s)")
