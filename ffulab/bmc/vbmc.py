"""One virtualbmc daemon per lab, with its own config dir inside the workspace.

vbmcd runs in the virthost's network namespace so that it can bind each BMC to the
lab's external bridge address only; its control port (ZMQ on 127.0.0.1 of that netns)
is chosen per lab so two labs' daemons never meet.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ffulab.errors import FfulabError
from ffulab.proc import in_netns, run
from ffulab.state import State

VBMC_DIR = "vbmc"
CONTROL_PORTS = range(51000, 59000)


def control_port(lab_id: str) -> int:
    digest = int(hashlib.sha256(lab_id.encode()).hexdigest(), 16)
    return CONTROL_PORTS.start + digest % len(CONTROL_PORTS)


def config_file(workspace: Path) -> Path:
    return workspace / VBMC_DIR / "virtualbmc.conf"


def _tool(name: str) -> str:
    """vbmc / vbmcd from ffulab's own environment."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FfulabError(f"{name} not found next to {sys.executable}: run 'ffulab virthost prepare'")
    return str(path)


def write_config(workspace: Path, lab_id: str) -> Path:
    """The lab's virtualbmc.conf: config_dir, pid file, log and control port all its own."""
    root = workspace / VBMC_DIR
    (root / "bmcs").mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    path = config_file(workspace)
    path.write_text(
        "[default]\n"
        f"config_dir = {root / 'bmcs'}\n"
        f"pid_file = {root / 'vbmcd.pid'}\n"
        f"server_port = {control_port(lab_id)}\n"
        "server_response_timeout = 20000\n"
        "server_spawn_wait = 5000\n"
        "[log]\n"
        f"logfile = {workspace / 'logs' / 'vbmcd.log'}\n"
        "debug = false\n"
    )
    os.chmod(path, 0o600)
    return path


def _env(workspace: Path) -> dict[str, str]:
    return {**os.environ, "VIRTUALBMC_CONFIG": str(config_file(workspace))}


def daemon_pids(workspace: Path) -> list[int]:
    """PIDs of vbmcd processes serving this workspace (found by their VIRTUALBMC_CONFIG)."""
    marker = f"VIRTUALBMC_CONFIG={config_file(workspace)}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                marker in (entry / "environ").read_bytes().split(b"\0")
                and b"vbmcd" in (entry / "cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def start_daemon(state: State, netns: str | None) -> None:
    """Start the lab's vbmcd (recorded first) unless it already runs; wait until it answers."""
    workspace = state.workspace
    with state.creating("vbmcd", str(config_file(workspace))):
        if not daemon_pids(workspace):
            (workspace / "logs").mkdir(exist_ok=True)
            log = open(workspace / "logs" / "vbmcd.out", "ab")  # noqa: SIM115 - handed to the daemon
            subprocess.Popen(
                in_netns(netns, [_tool("vbmcd"), "--foreground"]),
                env=_env(workspace),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if vbmc(workspace, netns, ["list"], check=False).returncode == 0:
                return
            time.sleep(0.5)
    raise FfulabError(f"vbmcd did not answer within 30 s; see {workspace / 'logs' / 'vbmcd.out'}")


def stop_daemon(workspace: Path) -> None:
    for pid in daemon_pids(workspace):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while daemon_pids(workspace) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in daemon_pids(workspace):
        os.kill(pid, signal.SIGKILL)


def vbmc(workspace: Path, netns: str | None, args: list[str], check: bool = True, secrets=()):
    return run(
        [_tool("vbmc"), *args], netns=netns, env=_env(workspace), check=check, timeout=60, secrets=secrets
    )


def ensure_bmc(
    workspace: Path,
    netns: str | None,
    domain: str,
    address: str,
    port: int,
    user: str,
    password: str,
    uri: str,
) -> None:
    """Add (if missing) and start the BMC of ``domain`` on ``address:port``."""
    listed = vbmc(workspace, netns, ["list", "-f", "value", "-c", "Domain name"]).stdout.split()
    if domain not in listed:
        vbmc(
            workspace,
            netns,
            [
                "add",
                domain,
                "--port",
                str(port),
                "--address",
                address,
                "--username",
                user,
                f"--password={password}",
                "--libvirt-uri",
                uri,
            ],
            secrets=[password],
        )
    status = vbmc(workspace, netns, ["show", domain, "-f", "value", "-c", "Value"], check=False).stdout
    if "running" not in status.split():
        vbmc(workspace, netns, ["start", domain])
