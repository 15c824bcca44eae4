"""IPMI from the virthost side (``ffulab status``, tests): the lab's BMCs as a client sees them."""

from __future__ import annotations

from pathlib import Path

from ffulab.proc import run
from ffulab.secrets import lab_secret
from ffulab.state import State
from ffulab.virthost.base import Virthost

WITH_PASSWORD = 'IFS= read -r IPMI_PASSWORD && export IPMI_PASSWORD && exec "$@"'
"""Reads the password from stdin into ipmitool's environment (``-E``): the same through ``ip netns
exec`` and through ssh (whose command line, unlike its stdin, others can read, and which passes no
environment)."""


def ipmi(virthost: Virthost, workspace: Path, bmc: dict, port: int, *args: str, password: str | None = None):
    """Run ipmitool against one BMC from where the lab is reachable; the password goes on stdin."""
    secret = password if password is not None else lab_secret(workspace, "bmc_password")
    argv = ["ipmitool", "-I", "lanplus", "-H", bmc["address"], "-p", str(port), "-U", bmc["user"], "-E"]
    argv = ["sh", "-c", WITH_PASSWORD, "sh", *argv, *args]
    return run(virthost.wrap(argv), input=f"{secret}\n", check=False, timeout=30, secrets=[secret])


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
