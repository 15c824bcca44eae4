"""Overcloud power the way a deployment node manages it: ipmitool on the undercloud.

ffulab copies ``instackenv.json`` and the BMC password (0600, via stdin so it is
never on a command line) to the undercloud, then asks the undercloud to set each
node's boot device and power it on over IPMI (lanplus), and waits for its SSH.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

from ffulab.errors import FfulabError
from ffulab.provision.access import ssh_argv

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


def on_undercloud(workspace: Path, argv: list[str], node: str, bmc: dict[str, Any]) -> str:
    """Run one ipmitool call on the undercloud; a failure names the node and its BMC."""
    result = subprocess.run(
        ssh_argv(workspace, "undercloud", [shlex.join(argv)]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise FfulabError(
            f"IPMI '{' '.join(argv[-2:])}' for {node} at BMC {bmc['pm_addr']}:{bmc['pm_port']} failed "
            f"from the undercloud: {(result.stderr or result.stdout).strip()}"
        )
    return result.stdout.strip()


def power_on_all(workspace: Path, env: dict[str, Any], password: str, progress) -> None:
    """Register the BMCs on the undercloud and power every overcloud node on from there."""
    push_private(workspace, "undercloud", REMOTE_INSTACKENV, json.dumps(env, indent=2))
    push_private(workspace, "undercloud", REMOTE_PASSWORD, password + "\n")
    for bmc in env["nodes"]:
        node = bmc["name"]
        status = on_undercloud(workspace, ipmitool(bmc, "power", "status"), node, bmc)
        progress(f"{node}: {status.lower()} (BMC {bmc['pm_addr']}:{bmc['pm_port']})")
        on_undercloud(workspace, ipmitool(bmc, "chassis", "bootdev", "disk"), node, bmc)
        if status.endswith("off"):
            on_undercloud(workspace, ipmitool(bmc, "power", "on"), node, bmc)
            progress(f"{node}: powered on by the undercloud over IPMI")
