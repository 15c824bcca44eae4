"""One virtualbmc daemon per lab, on the virthost, with its own config dir in the lab's directory there.

vbmcd runs where the lab's bridges are (``virthost.wrap``: the sandbox's netns, or the ssh
virthost itself) so that it can bind each BMC to the lab's external bridge address only, and it
talks to the virthost's own libvirt (``virthost.host_uri``). Its control port (ZMQ on 127.0.0.1
there) is chosen per lab so two labs' daemons never meet. The ``vbmc`` commands run there too,
their arguments (the BMC password among them) sent on stdin rather than on a local command line.

The daemon is told apart from every other process by ``VIRTUALBMC_CONFIG=<its config>`` in its
environment (vbmcd forks one child per BMC, which carry it too): that is how it is found and stopped.
"""

from __future__ import annotations

import hashlib
import shlex
import time

from ffulab.errors import FfulabError
from ffulab.proc import run
from ffulab.state import State
from ffulab.virthost.base import Virthost

VBMC_DIR = "vbmc"
CONTROL_PORTS = range(51000, 59000)

_PIDS = r"""pids() {
  grep -lzxF "VIRTUALBMC_CONFIG=$1" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
    d=${f%/environ}; grep -qzF vbmcd "$d/cmdline" 2>/dev/null && echo "${d#/proc/}"
  done
  true
}
"""
PIDS = _PIDS + 'pids "$1"\n'
"""The pids of the lab's vbmcd processes (``$1``: its config file)."""
STOP = (
    _PIDS
    + r"""p=$(pids "$1"); [ -n "$p" ] || exit 0
kill $p 2>/dev/null || true
i=0
while [ $i -lt 50 ]; do
  [ -n "$(pids "$1")" ] || { echo stopped; exit 0; }
  sleep 0.2; i=$((i + 1))
done
kill -9 $(pids "$1") 2>/dev/null || true
echo killed
"""
)
"""SIGTERM to the lab's vbmcd and its children, SIGKILL to what is left after 10 s."""
START = 'VIRTUALBMC_CONFIG="$1" exec setsid -f "$2" --foreground >>"$3" 2>&1 </dev/null'
"""vbmcd detached in its own session (it outlives ffulab), output appended to ``$3``."""


def control_port(lab_id: str) -> int:
    digest = int(hashlib.sha256(lab_id.encode()).hexdigest(), 16)
    return CONTROL_PORTS.start + digest % len(CONTROL_PORTS)


def config_path(home: str) -> str:
    """The lab's virtualbmc.conf on the virthost (``home``: the lab's directory there)."""
    return f"{home}/{VBMC_DIR}/virtualbmc.conf"


def config_text(home: str, lab_id: str) -> str:
    """The lab's virtualbmc.conf: config_dir, pid file, log and control port all its own."""
    root = f"{home}/{VBMC_DIR}"
    return (
        "[default]\n"
        f"config_dir = {root}/bmcs\n"
        f"pid_file = {root}/vbmcd.pid\n"
        f"server_port = {control_port(lab_id)}\n"
        "server_response_timeout = 20000\n"
        "server_spawn_wait = 5000\n"
        "[log]\n"
        f"logfile = {home}/logs/vbmcd.log\n"
        "debug = false\n"
    )


def write_config(virthost: Virthost, home: str, lab_id: str) -> str:
    """Write the lab's config (0600, in a 0700 directory) on the virthost; return its path there."""
    virthost.make_dir(f"{home}/{VBMC_DIR}/bmcs", 0o700)
    virthost.make_dir(f"{home}/{VBMC_DIR}", 0o700)
    virthost.make_dir(f"{home}/logs")
    path = config_path(home)
    virthost.put_file(path, config_text(home, lab_id), mode=0o600)
    return path


def daemon_pids(virthost: Virthost, config: str) -> list[int]:
    """PIDs of the vbmcd processes (parent and per-BMC children) serving ``config`` on the virthost."""
    result = run(virthost.host_shell(PIDS, config), check=False, timeout=60)
    return [int(pid) for pid in result.stdout.split() if pid.isdigit()]


def start_daemon(state: State, virthost: Virthost, home: str) -> None:
    """Start the lab's vbmcd (recorded first) unless it already runs; wait until it answers."""
    config = config_path(home)
    output = f"{home}/logs/vbmcd.out"
    with state.creating("vbmcd", config):
        if not daemon_pids(virthost, config):
            run(virthost.wrap(["sh", "-c", START, "sh", config, virthost.tool("vbmcd"), output]), timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if vbmc(virthost, config, ["list"], check=False).returncode == 0:
                return
            time.sleep(0.5)
    raise FfulabError(f"vbmcd did not answer within 30 s; see {output} on the virthost")


def stop_daemon(virthost: Virthost, config: str) -> bool:
    """Stop the vbmcd serving ``config`` (and its children); return whether one ran."""
    return bool(run(virthost.host_shell(STOP, config), timeout=60).stdout.strip())


def vbmc(virthost: Virthost, config: str, args: list[str], check: bool = True, secrets=()):
    """``vbmc ARGS`` on the virthost, the command line going in on stdin."""
    script = f"VIRTUALBMC_CONFIG={shlex.quote(config)} exec {shlex.join([virthost.tool('vbmc'), *args])}\n"
    return run(virthost.wrap(["sh", "-s"]), input=script, check=check, timeout=60, secrets=secrets)


def ensure_bmc(
    virthost: Virthost,
    config: str,
    domain: str,
    address: str,
    port: int,
    user: str,
    password: str,
) -> None:
    """Add (if missing) and start the BMC of ``domain`` on ``address:port``."""
    listed = vbmc(virthost, config, ["list", "-f", "value", "-c", "Domain name"]).stdout.split()
    if domain not in listed:
        vbmc(
            virthost,
            config,
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
                virthost.host_uri,
            ],
            secrets=[password],
        )
    status = vbmc(virthost, config, ["show", domain, "-f", "value", "-c", "Value"], check=False).stdout
    if "running" not in status.split():
        vbmc(virthost, config, ["start", domain])
