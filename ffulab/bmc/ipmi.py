"""IPMI from the virthost side (``ffulab status``, tests): the lab's BMCs as a client sees them."""

from __future__ import annotations

import os
from pathlib import Path

from ffulab.proc import run
from ffulab.secrets import lab_secret
from ffulab.state import State
from ffulab.virthost.base import Virthost


def ipmi(virthost: Virthost, workspace: Path, bmc: dict, port: int, *args: str, password: str | None = None):
    """Run ipmitool against one BMC from where the lab is reachable; the password goes by env (-E)."""
    secret = password if password is not None else lab_secret(workspace, "bmc_password")
    argv = ["ipmitool", "-I", "lanplus", "-H", bmc["address"], "-p", str(port), "-U", bmc["user"], "-E"]
    argv += args
    return run(virthost.wrap(argv), env={**os.environ, "IPMI_PASSWORD": secret}, check=False, timeout=30)


def power_states(virthost: Virthost, state: State) -> dict[str, str]:
    """Each overcloud node's power as its BMC reports it ('on', 'off' or the IPMI error)."""
    bmc = state.data.bmc
    if not bmc:
        return {}
    states = {}
    for node, port in bmc["ports"].items():
        result = ipmi(virthost, state.workspace, bmc, port, "power", "status")
        text = result.stdout.strip()
        states[node] = text.rsplit(" ", 1)[-1] if result.returncode == 0 else f"IPMI error: {text}"
    return states
