"""Phase ``bmc``: a vbmc per overcloud node, instackenv.json, power-on from the undercloud.

When this run goes on to the undercloud phase the nodes boot while that phase builds the artifacts
and fills the mirror, and it waits for their SSH; else this phase waits
(:func:`ffulab.bmc.power.wait_booted`).
"""

from __future__ import annotations

import json
import os
import time

from ffulab.bmc import vbmc
from ffulab.bmc.instackenv import bmc_ports, instackenv
from ffulab.bmc.power import power_on_all, wait_booted
from ffulab.context import Context
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.secrets import lab_secret

BMC_USER = "admin"
BMC_PASSWORD_LENGTH = 16
"""IPMI 2.0 (lanplus) passwords are at most 20 bytes."""
INSTACKENV = "instackenv.json"


def run(ctx: Context) -> None:
    virthost = lab_virthost(ctx)
    layout = Layout.from_dict(ctx.state.data.layout)
    password = lab_secret(ctx.workspace, "bmc_password", length=BMC_PASSWORD_LENGTH)
    address = layout.networks["external"].gateway
    home = virthost.lab_dir(ctx.workspace, layout.lab_id)
    config = vbmc.write_config(virthost, home, layout.lab_id)
    vbmc.start_daemon(ctx.state, virthost, home)
    ports = bmc_ports(layout)
    for node in layout.nodes:
        if node.name in ports:
            ctx.progress(f"BMC for {node.name} on {address}:{ports[node.name]}")
            vbmc.ensure_bmc(virthost, config, node.domain, address, ports[node.name], BMC_USER, password)
    env = instackenv(layout, BMC_USER, password)
    path = ctx.workspace / INSTACKENV
    path.write_text(json.dumps(env, indent=2))
    os.chmod(path, 0o600)
    # powered_on: what wait_booted waits for (set again by every run of this phase)
    ctx.state.update(bmc={"address": address, "user": BMC_USER, "ports": ports, "powered_on": time.time()})
    power_on_all(ctx.workspace, env, password, ctx.progress)
    if "undercloud" in ctx.phases:  # phases run in pipeline order: it comes next
        ctx.progress("the overcloud nodes boot while the undercloud phase fills the mirror")
    else:
        wait_booted(ctx)
