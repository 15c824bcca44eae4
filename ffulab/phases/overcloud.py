"""Phase ``overcloud``: deploy the lab's services at release N with ``playbooks/overcloud.yml``.

The variables (release, artifacts on the undercloud's mirror, generated passwords and keys) come
from :mod:`ffulab.deploy.extravars`; the admin credentials are written to ``<workspace>/overcloudrc``
(0600) and, by the playbook, to the undercloud (clouds.yaml with cloud ``overcloud``, overcloudrc).

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
from ffulab.deploy.extravars import RENDER_DIR, deploy_extravars, redacted
from ffulab.errors import PhaseError
from ffulab.state import OvercloudRecord

if TYPE_CHECKING:
    from ffulab.context import Context

log = logging.getLogger(__name__)

PLAYBOOK = "overcloud.yml"


def deploy(ctx: Context, extravars: dict[str, Any], label: str = "overcloud") -> PlaybookResult:
    render = ctx.workspace / RENDER_DIR
    render.mkdir(mode=0o700, parents=True, exist_ok=True)
    render.parent.chmod(0o700)
    log.debug("%s variables (secrets hidden): %s", label, json.dumps(redacted(extravars), sort_keys=True))
    return run_playbook(ctx.workspace, PLAYBOOK, extravars, ctx.progress, label=label)


def run(ctx: Context) -> None:
    config = ctx.resolved.config
    extravars = deploy_extravars(ctx)
    first = deploy(ctx, extravars)
    record = OvercloudRecord(
        release=config.release.overcloud,
        versions=dict(config.series[config.release.overcloud].services),
        seconds=first.seconds,
        changed=first.changed,
        tasks=first.tasks,
        steps=first.steps,
        deployed_at=time.time(),
    )
    if "overcloud_rc" in extravars:
        path = write_overcloudrc(ctx.workspace, extravars["overcloud_rc"])
        record.identity_url = extravars["keystone_public_url"]
        record.apis = {"keystone": record.identity_url}
        record.overcloudrc = str(path)
        ctx.progress(f"keystone {extravars['keystone_public_url']}; credentials in {path}")
    ctx.state.update(overcloud=record)
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
