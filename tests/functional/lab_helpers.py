"""Helpers for the functional tier: the real ``ffulab`` command, the sandbox netns, libvirt names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ffulab.virthost import daemons
from ffulab.virthost.sandbox import NETNS


def ffulab(
    *args: str, check: bool = True, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ffulab CLI as a user would; on failure show what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "ffulab", *args],
        capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip
    if check and result.returncode != 0:
        pytest.fail(f"ffulab {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def in_sandbox(*argv: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", NETNS, *argv], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def state_of(workspace: Path) -> dict:
    return json.loads((workspace / "state.json").read_text())


def virsh_names(what: str) -> list[str]:
    """Names from ``virsh list --all`` / ``net-list --all`` ([] when libvirt is gone)."""
    command = ["list", "--all", "--name"] if what == "domains" else ["net-list", "--all", "--name"]
    result = subprocess.run(
        ["virsh", "-c", "qemu:///system", *command], capture_output=True, text=True, check=False
    )
    return [line for line in result.stdout.split() if line] if result.returncode == 0 else []


def processes_here(name: str) -> list[int]:
    """Live processes called ``name``, except those in a named netns other than the sandbox's: another
    test's machine (the ssh virthost's remote host) runs its own qemu and vbmcd there."""
    others = {
        daemons.named_netns_inode(entry.name) for entry in Path("/run/netns").glob("*") if entry.name != NETNS
    }
    return [pid for pid in daemons.processes(name) if daemons.netns_inode(pid) not in others]
