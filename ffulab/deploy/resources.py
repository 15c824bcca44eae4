"""Grenade-style resources: data made before the FFU (phase ``resources``) and verified after it.

An upgrade that loses a project, a role assignment or a password is broken even when every service
answers. So before the FFU each service whose ``roles/<svc>/ffulab.yml`` says ``resources: true``
makes its data from the undercloud (``playbooks/resources.yml``, action ``create``: idempotent), and
after it (the ffu phase, the rollback drill) action ``verify`` checks every item and that the users
still authenticate. Role scripts print ``ffulab-resource: KIND NAME STATUS [WHY]`` per item; the
state's ``resources`` keeps what was made and the last verification.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ffulab.catalog import Catalog
from ffulab.config.schema import LabConfig
from ffulab.deploy.ansible import PlaybookFailed, PlaybookResult, run_playbook
from ffulab.deploy.extravars import deploy_extravars, log_safe, undercloud_extravars
from ffulab.errors import FfulabError
from ffulab.ffu.dataplane import parse_workloads
from ffulab.provision.layout import Layout
from ffulab.secrets import lab_secret
from ffulab.state import Workload

if TYPE_CHECKING:
    from ffulab.context import Context

log = logging.getLogger(__name__)

PLAYBOOK = "resources.yml"
RESOURCE_LINE = re.compile(
    r"^ffulab-resource: (?P<kind>\S+) (?P<name>\S+) (?P<status>\S+)(?: (?P<why>.*?))?\r?$", re.MULTILINE
)
"""What a service's resources script prints per item (roles/<svc>/files/<svc>_resources.py)."""
SUCCESS = ("ok", "created", "updated")


@dataclass(frozen=True)
class Item:
    """One resource line: which service's item, and how it fared (MISSING, FAILED: with why)."""

    service: str
    kind: str
    name: str
    status: str
    why: str = ""

    @property
    def ok(self) -> bool:
        return self.status in SUCCESS

    def describe(self) -> str:
        return f"{self.service} {self.kind} {self.name}: {self.status} {self.why}".strip()

    def key(self) -> dict[str, str]:
        return {"service": self.service, "kind": self.kind, "name": self.name}


def parse_items(result: PlaybookResult) -> list[Item]:
    """Every ``ffulab-resource:`` line of the run, with the service (role) whose task printed it."""
    return [
        Item(output["role"], match["kind"], match["name"], match["status"], match["why"] or "")
        for output in result.outputs
        for match in RESOURCE_LINE.finditer(output["stdout"])
    ]


def resource_services(config: LabConfig, catalog: Catalog) -> list[str]:
    """The lab's services whose role makes resources, in the lab file's order."""
    return [service.name for service in catalog.of_lab(config) if service.resources]


def resources_extravars(ctx: Context, action: str, services: list[str]) -> dict[str, Any]:
    """The undercloud's and the deploy's variables, the action, the services, each one's seed."""
    # first: it names the missing phase when there is no mirror yet. At the release the lab is at: the
    # scripts act on what it runs (nova boots a new server at the FFU's last release, not at N)
    deploy = deploy_extravars(ctx, lab_release(ctx))
    index = ctx.state.data.undercloud["mirror"]["index"]
    layout = Layout.from_dict(ctx.state.data.layout)
    return {
        **undercloud_extravars(ctx.resolved.config, layout, index),
        **deploy,
        "resources_action": action,
        "resources_services": services,
        # a workload's uptime does not run on through them (nova's verify leaves them out)
        "resources_paused": [[w.start, w.end] for w in ctx.state.data.stood_still()],
        "resources_passwords": {
            service: lab_secret(ctx.workspace, f"{service}_resources_password") for service in services
        },
    }


@dataclass(frozen=True)
class Applied:
    """One run of the resources playbook: its items, the workloads it named, its seconds and log."""

    items: list[Item]
    workloads: dict[str, Workload]
    seconds: float
    log: str


def parse_all_workloads(result: PlaybookResult) -> dict[str, Workload]:
    """Every ``ffulab-dataplane:`` line of the run, with the service (role) whose task printed it."""
    found: dict[str, Workload] = {}
    for output in result.outputs:
        found.update(parse_workloads(output["role"], output["stdout"]))
    return found


def apply(ctx: Context, action: str, label: str) -> Applied:
    """Run the playbook for ``action``. A run that failed for another reason than its items (no
    line says which) raises as it is."""
    services = resource_services(ctx.resolved.config, ctx.resolved.catalog)
    if not services:
        ctx.progress("no service of this lab makes resources (resources: true in roles/<svc>/ffulab.yml)")
        return Applied([], {}, 0.0, "")
    extravars = resources_extravars(ctx, action, services)
    log.debug(
        "%s variables (secrets hidden): %s",
        label,
        json.dumps(log_safe(ctx.workspace, extravars), sort_keys=True),
    )
    started = time.monotonic()
    try:
        result = run_playbook(ctx.workspace, PLAYBOOK, extravars, ctx.progress, label=label)
    except PlaybookFailed as exc:
        result = exc.result
        if all(item.ok for item in parse_items(result)):
            raise
    seconds = round(time.monotonic() - started, 1)
    return Applied(parse_items(result), parse_all_workloads(result), seconds, str(result.log))


def failure(items: list[Item], action: str, log_path: str, rerun: str) -> FfulabError:
    failed = [item.describe() for item in items if not item.ok]
    return FfulabError(
        f"resources {action}: {len(failed)} of {len(items)} item(s) failed: {'; '.join(failed)}\n"
        f"full Ansible log: {log_path}\nrerun with: {rerun}"
    )


def lab_release(ctx: Context) -> str:
    """The release the lab's services run: N, until the ffu phase records N+3 in ``overcloud``."""
    return ctx.state.data.overcloud.release or ctx.resolved.config.release.overcloud


def check_resources(ctx: Context, label: str) -> tuple[dict[str, Any], list[Item], str]:
    """Check every resource at the release the lab is at, ``label`` naming the run; record the result
    as ``resources.verified``; return it, the items and the Ansible log. Never raises for an item."""
    applied = apply(ctx, "verify", label=label)
    items, seconds, log_path = applied.items, applied.seconds, applied.log
    release = lab_release(ctx)
    failed = [item.describe() for item in items if not item.ok]
    verified = {
        "release": release,
        "label": label,
        "items": len(items),
        "ok": len(items) - len(failed),
        "failed": failed,
        "seconds": seconds,
    }
    ctx.state.data.resources.verified = verified
    ctx.state.save()
    return verified, items, log_path


def verify_resources(ctx: Context, label: str) -> dict[str, Any]:
    """:func:`check_resources`, raising naming each failed item."""
    verified, items, log_path = check_resources(ctx, label)
    release, seconds = verified["release"], verified["seconds"]
    if verified["failed"]:
        first = ctx.resolved.config.release.ffu_chain[1]  # the FFU again, from snapshot ffu-ready
        raise failure(
            items, "verify", log_path, f"ffulab ffu -w {ctx.workspace} --from-release {first} --from-step 1"
        )
    ctx.progress(f"{len(items)} resource(s) verified at {release} in {seconds:.0f} s")
    return verified


def verify_if_created(ctx: Context, label: str) -> int:
    """Verify the resources made before the FFU, if any were; the number of items verified (0: none)."""
    if not ctx.state.data.resources.created:
        ctx.progress("no resources were created before the FFU (phase resources): nothing to verify")
        return 0
    return int(verify_resources(ctx, label=label).get("items", 0))
