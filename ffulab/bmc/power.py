"""Overcloud power the way a deployment node manages it: ipmitool on the undercloud.

ffulab copies ``instackenv.json`` and the BMC password (0600, via stdin so it is
never on a command line) to the undercloud, then asks the undercloud to set each
node's boot device and power it on over IPMI (lanplus). The nodes boot while the undercloud phase
fills the mirror; that phase then waits for their SSH (:func:`wait_booted`).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ffulab.errors import FfulabError
from ffulab.provision.access import ssh_argv, wait_for_ssh

if TYPE_CHECKING:
    from ffulab.context import Context

REMOTE_INSTACKENV = "/root/instackenv.json"
REMOTE_PASSWORD = "/root/.ipmi-password"


def push_private(workspace: Path, node: str, remote: str, content: str) -> None:
    """Write ``content`` to ``remote`` on ``node`` with mode 0600, through SSH's stdin."""
    command = f"umask 077 && cat > {shlex.quote(remote)}"
    result = subprocess.run(
        ssh_argv(workspace, node, [command]),
        input=content,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise FfulabError(f"could not write {remote} on {node}: {result.stderr.strip()}")


def ipmitool(bmc: dict[str, Any], *args: str) -> list[str]:
    """An ipmitool command line for one node's BMC, reading the password from the undercloud's file."""
    return [
        "ipmitool", "-I", "lanplus", "-H", bmc["pm_addr"], "-p", str(bmc["pm_port"]),
        "-U", bmc["pm_user"], "-f", REMOTE_PASSWORD, *args,
    ]  # fmt: skip


def _power_script(env: dict[str, Any]) -> str:
    """One shell script for the undercloud: per node, status, boot device, power on if off.

    One SSH round trip for the lab instead of three per node (each costs seconds under TCG).
    """
    lines = ["set -u"]
    for bmc in env["nodes"]:
        name, where = bmc["name"], f"{bmc['pm_addr']}:{bmc['pm_port']}"
        status = shlex.join(ipmitool(bmc, "power", "status"))
        fail = f"{{ echo {shlex.quote(f'{name}: IPMI %s at BMC {where} failed')} >&2; exit 1; }}"
        lines += [
            f"s=$({status}) || {fail % 'power status'}",
            f'echo "{name}: $s"',
            f"{shlex.join(ipmitool(bmc, 'chassis', 'bootdev', 'disk'))} >/dev/null"
            f" || {fail % 'chassis bootdev disk'}",
            f'case "$s" in *off) {shlex.join(ipmitool(bmc, "power", "on"))} >/dev/null || {fail % "power on"}'
            f'; echo "{name}: powered on";; esac',
        ]
    return "\n".join(lines) + "\n"


def power_on_all(workspace: Path, env: dict[str, Any], password: str, progress) -> None:
    """Register the BMCs on the undercloud and power every overcloud node on from there."""
    push_private(workspace, "undercloud", REMOTE_INSTACKENV, json.dumps(env, indent=2))
    push_private(workspace, "undercloud", REMOTE_PASSWORD, password + "\n")
    result = subprocess.run(
        ssh_argv(workspace, "undercloud", ["sh", "-s"]),
        input=_power_script(env), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        progress(line.replace("powered on", "powered on by the undercloud over IPMI"))
    if result.returncode != 0:
        raise FfulabError(f"from the undercloud: {(result.stderr or result.stdout).strip()}")


def wait_booted(ctx: Context) -> None:
    """Wait for SSH on every node the bmc phase powered on; record seconds from its power-on.

    ``bmc.powered_on`` is the bmc phase's mark, dropped once every node answered: a later run of the
    undercloud phase alone (nodes since powered off, or reverted) waits for nothing.
    """
    bmc = dict(ctx.state.data.bmc or {})
    powered_on = bmc.pop("powered_on", None)
    if powered_on is None:
        return
    for name in bmc["ports"]:
        wait_for_ssh(ctx.workspace, name, progress=ctx.progress)
        seconds = round(time.time() - powered_on, 1)
        ctx.state.data.ssh_seconds[name] = seconds
        ctx.state.save()
        ctx.progress(f"{name} answers SSH through the undercloud ({seconds:.0f}s after its power-on)")
    ctx.state.update(bmc=bmc)
