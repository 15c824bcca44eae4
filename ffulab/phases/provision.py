"""Phase ``provision``: lab networks, linked-clone overlays and domains; undercloud up.

Each libvirt object and file is recorded in state before it is created, so destroy
finds it after any crash; rerunning converges (existing objects are kept).
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from ffulab.context import Context
from ffulab.errors import FfulabError
from ffulab.image.boot import kernel_cmdline
from ffulab.proc import run as run_command
from ffulab.provision import access
from ffulab.provision.labvirt import existing_subnets, lab_virthost, routed_subnets
from ffulab.provision.layout import Layout, allocate_subnets, build_layout, lab_id_for
from ffulab.provision.xml import domain_xml, network_xml
from ffulab.virthost.connection import libvirt_open, lookup

ALLOCATION_LOCK = Path("/run/lock/ffulab-allocation.lock")


def _layout(ctx: Context, conn, virthost) -> Layout:
    """The lab's layout from state, or a new one with subnets no other network uses."""
    if ctx.state.data.layout:
        return Layout.from_dict(ctx.state.data.layout)
    lab_id = lab_id_for(ctx.resolved.config.lab.name, ctx.workspace)
    config = ctx.resolved.config
    layout = build_layout(
        config,
        lab_id,
        allocate_subnets(existing_subnets(conn) + routed_subnets(virthost)),
        ctx.resolved.catalog.external_roles(config),
    )
    ctx.state.update(layout=layout.to_dict())
    return layout


def _ensure_networks(ctx: Context, conn, layout: Layout) -> None:
    for network in layout.networks.values():
        with ctx.state.creating("network", network.libvirt_name, bridge=network.bridge, cidr=network.cidr):
            net = lookup(conn, "network", network.libvirt_name)
            if net is None:
                ctx.progress(f"network {network.libvirt_name} ({network.cidr}, bridge {network.bridge})")
                net = conn.networkDefineXML(network_xml(network, layout.nodes))
            if not net.isActive():
                net.create()


OVERLAY = """set -e
mkdir -p "$(dirname "$2")" "$4"
test -e "$2" || qemu-img create -q -f qcow2 -F qcow2 -b "$1" "$2" "$3"
"""
"""On the virthost: the node's linked clone of the base image (kept if there), its console log's directory."""


def _ensure_overlay(ctx: Context, virthost, base: str, path: str, size_gib: int, logs: str) -> None:
    with ctx.state.creating("file", path):
        run_command(virthost.host_shell(OVERLAY, base, path, f"{size_gib}G", logs), timeout=120)


def _ensure_lab_dir(ctx: Context, virthost, layout: Layout) -> str:
    """Where the lab's disks and console logs live on the virthost: the workspace, or (ssh virthost)
    a directory of its own there, recorded so that destroy removes it after everything in it."""
    home = virthost.lab_dir(ctx.workspace, layout.lab_id)
    if home != str(ctx.workspace):
        with ctx.state.creating("dir", home):
            virthost.make_dir(home, 0o711)
    return home


def _ensure_domains(ctx: Context, conn, virthost, layout: Layout, home: str) -> None:
    image = ctx.state.data.image
    if not image:
        raise FfulabError("no guest image recorded in the lab state: run the 'image' phase first (-t image)")
    virt_type = ctx.state.data.virt_type or "qemu"
    pubkey = access.public_key(ctx.workspace)
    for node in layout.nodes:
        disk = Path(home) / "disks" / f"{node.name}.qcow2"
        console_log = Path(home) / "logs" / "console" / f"{node.name}.log"
        _ensure_overlay(ctx, virthost, image["disk"], str(disk), node.disk, str(console_log.parent))
        with ctx.state.creating("domain", node.domain, node=node.name):
            domain = lookup(conn, "domain", node.domain)
            if domain is None:
                ctx.progress(f"define {node.domain} ({node.memory} MiB, {node.vcpus} vCPU, {virt_type})")
                xml = domain_xml(
                    node,
                    layout.networks,
                    virt_type=virt_type,
                    disk=disk,
                    kernel=Path(image["kernel"]),
                    initrd=Path(image["initrd"]),
                    cmdline=kernel_cmdline(node.name, pubkey),
                    console_log=console_log,
                )
                domain = conn.defineXML(xml)
            if node.undercloud and not domain.isActive():
                ctx.progress("start the undercloud")
                domain.create()


def run(ctx: Context) -> None:
    virthost = lab_virthost(ctx)
    access.ensure_key(ctx.workspace, f"ffulab-{ctx.resolved.config.lab.name}")
    ALLOCATION_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with libvirt_open(virthost.uri) as conn:
        with ALLOCATION_LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two labs provisioning at once get different subnets
            layout = _layout(ctx, conn, virthost)
            home = _ensure_lab_dir(ctx, virthost, layout)
            _ensure_networks(ctx, conn, layout)
        _ensure_domains(ctx, conn, virthost, layout, home)
    access.write_ssh_config(ctx.workspace, layout, virthost.proxy_command())
    access.write_inventory(ctx.workspace, layout)
    seconds = access.wait_for_ssh(ctx.workspace, "undercloud", progress=ctx.progress)
    ctx.state.data.ssh_seconds["undercloud"] = round(seconds, 1)
    ctx.state.save()
    ctx.progress(f"undercloud answers SSH ({seconds:.0f}s after start)")
