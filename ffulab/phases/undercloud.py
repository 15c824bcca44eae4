"""Phase ``undercloud``: the release mirror served on the ctlplane, chrony, openstackclient.

1. artifacts: every OpenStack service of the lab at every series of the FFU chain, plus the
   undercloud series' openstackclient, built on the virthost or taken from the cache
   (:func:`ffulab.artifacts.ensure_release_artifacts`);
   and, when a service of the lab uses it (catalog ``uses``), the workload image
   (:mod:`ffulab.image.workload`);
2. mirror: only the missing ones are copied to ``/srv/ffulab/mirror/<series>/`` (:mod:`ffulab.deploy.mirror`);
3. ``playbooks/undercloud.yml``: the mirror's HTTP unit on the ctlplane address, chrony serving the
   ctlplane, openstackclient unpacked and on PATH;
4. the overcloud nodes the bmc phase powered on, booting meanwhile, answer SSH
   (:func:`ffulab.bmc.power.wait_booted`), before the ``undercloud-ready`` snapshot.

The mirror's index and URL are recorded in the state for the overcloud and FFU phases.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from ffulab.artifacts import ensure_release_artifacts, mirror_index
from ffulab.bmc.power import wait_booted
from ffulab.deploy.ansible import run_playbook
from ffulab.deploy.extravars import undercloud_extravars
from ffulab.deploy.mirror import (
    MIRROR_DIR,
    MIRROR_PORT,
    mirror_entries,
    mirror_url,
    serve_files,
    serve_from_virthost,
    sync_mirror,
)
from ffulab.image.workload import ensure_workload_image, workload_mirror_entry
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout

if TYPE_CHECKING:
    from ffulab.context import Context

STATE_KEY = "undercloud"


def run(ctx: Context) -> None:
    layout = Layout.from_dict(ctx.state.data.layout)
    timings: dict[str, float] = {}

    mark = time.monotonic()
    artifacts = ensure_release_artifacts(ctx.resolved, ctx.progress)
    timings["artifacts"] = round(time.monotonic() - mark, 1)
    built = [f"{a.name}-{a.version}" for a in artifacts if a.built]
    ctx.progress(f"{len(artifacts)} artifact(s) ready ({len(built)} built) in {timings['artifacts']:.0f} s")

    index = mirror_index(artifacts)
    files = {
        entry["file"]: artifact.path for entry, artifact in zip(index["artifacts"], artifacts, strict=True)
    }
    if ctx.resolved.catalog.uses(ctx.resolved.config, "workload_image"):
        mark = time.monotonic()
        image = ensure_workload_image(progress=ctx.progress)
        timings["workload_image"] = round(time.monotonic() - mark, 1)
        entry = workload_mirror_entry(image)
        index["images"] = [entry]
        files[entry["file"]] = image.archive
    virthost = lab_virthost(ctx)
    address = layout.networks["ctlplane"].gateway
    if virthost.lab_reachable_here:  # the bridge is on this machine: serve the cache's files as they are
        serve = partial(serve_files, virthost.wrap, address)
    else:  # an ssh virthost: copied into its store once, served there
        sums = {entry["file"]: entry["sha256"] for entry in mirror_entries(index)}
        serve = partial(serve_from_virthost, virthost, address, sums, progress=ctx.progress)
    mark = time.monotonic()
    sync = sync_mirror(ctx.workspace, index, files, ctx.progress, serve=serve)
    timings["mirror"] = round(time.monotonic() - mark, 1)

    result = run_playbook(
        ctx.workspace,
        "undercloud.yml",
        undercloud_extravars(ctx.resolved.config, layout, index),
        ctx.progress,
        label="undercloud",
    )
    timings["playbook"] = result.seconds
    mark = time.monotonic()
    wait_booted(ctx)
    timings["overcloud_boot_wait"] = round(time.monotonic() - mark, 1)
    undercloud = layout.node("undercloud")
    ctx.state.update(
        undercloud={
            "mirror": {
                "url": mirror_url(undercloud.ctlplane_ip, MIRROR_PORT),
                "dir": MIRROR_DIR,
                "index": index,
            },
            "artifacts_built": built,
            "sync": sync.to_dict(),
            "changed": result.changed,
            "steps": result.steps,
            "timings": timings,
        },
    )
