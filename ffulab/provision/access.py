"""How a person and Ansible reach the lab: per-lab SSH key, ssh.config.ansible, inventory.yml.

In tripleo-quickstart's style the undercloud is reached through the virthost (for
the sandbox a ProxyCommand into its netns) and every overcloud node through the
undercloud as jump host, so ``ssh -F WS/ssh.config.ansible undercloud`` works as typed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import yaml

from ffulab.errors import FfulabError
from ffulab.proc import run
from ffulab.provision.layout import Layout

KEY_FILE = "id_ed25519"
SSH_CONFIG = "ssh.config.ansible"
INVENTORY = "inventory.yml"
RUN_USER = Path("/run/user")
"""Where systemd-logind keeps each user's private runtime directory (``/run/user/<uid>``, 0700)."""
SOCKET_PATH_MAX = 107 - 17
"""A unix socket path holds 107 bytes (sun_path, and a NUL); ssh binds ``<ControlPath>.<16 random
characters>`` first, then renames it."""


def _private(directory: Path) -> bool:
    """A real directory of this user that nobody else may enter or write."""
    try:
        info = directory.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def control_dir() -> Path:
    """Where the lab's SSH ControlMaster sockets live: ``ffulab/`` in the user's runtime directory
    (``$XDG_RUNTIME_DIR``, else ``/run/user/<uid>``, when private), else ``~/.ffulab/.cm``; 0700.

    Never a shared directory such as /tmp: whoever can create a socket of the expected name there
    gets the lab's SSH sessions, and with them root on every node.
    """
    runtimes = [os.environ.get("XDG_RUNTIME_DIR") or "", str(RUN_USER / str(os.geteuid()))]
    private = [Path(path) for path in runtimes if path and Path(path).is_absolute() and _private(Path(path))]
    directory = private[0] / "ffulab" if private else Path.home() / ".ffulab" / ".cm"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise FfulabError(
            f"{directory}: the SSH control directory must be a directory of uid {os.geteuid()} "
            "that nobody else can write; remove it and run again"
        )
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)
    return directory


def ensure_key(workspace: Path, comment: str) -> Path:
    """The lab's own SSH key pair (0600), generated once; never printed or logged."""
    key = workspace / KEY_FILE
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
    os.chmod(key, 0o600)
    return key


def public_key(workspace: Path) -> str:
    return (workspace / f"{KEY_FILE}.pub").read_text().strip()


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)


def write_ssh_config(workspace: Path, layout: Layout, proxy_command: str | None) -> Path:
    """``ssh.config.ansible``: undercloud via the virthost, overcloud via the undercloud."""
    key = workspace / KEY_FILE
    control = control_dir() / f"{layout.lab_id[-6:]}-%h"  # the lab's hash, the node's address (HostName)
    longest = max(len(str(control).replace("%h", node.ctlplane_ip).encode()) for node in layout.nodes)
    if longest > SOCKET_PATH_MAX:
        raise FfulabError(
            f"{control}: the SSH control sockets' paths would be {longest} bytes, more than a unix socket "
            f"takes ({SOCKET_PATH_MAX} with ssh's suffix): set XDG_RUNTIME_DIR to a short private directory"
        )
    common = [
        "    User root",
        f"    IdentityFile {key}",
        "    IdentitiesOnly yes",
        "    UserKnownHostsFile /dev/null",
        "    StrictHostKeyChecking no",
        "    LogLevel ERROR",
        "    ServerAliveInterval 15",
        "    ControlMaster auto",
        f"    ControlPath {control}",
        "    ControlPersist 5m",
    ]
    lines = [f"# ssh config of lab {layout.lab_id}, written by ffulab"]
    for node in layout.nodes:
        lines += ["", f"Host {node.name}", f"    HostName {node.ctlplane_ip}", *common]
        if node.undercloud:
            if proxy_command:
                lines.append(f"    ProxyCommand {proxy_command}")
        else:
            lines.append("    ProxyJump undercloud")
    path = workspace / SSH_CONFIG
    _write_private(path, "\n".join(lines) + "\n")
    return path


def close_masters(workspace: Path, nodes: list[str]) -> None:
    """``ssh -O exit`` each node's ControlMaster (overcloud first: they ride on the undercloud's), then
    stop the ``ssh -W`` proxies the masters leave behind: an ssh virthost's, and the ones ProxyJump
    starts for the overcloud nodes (``ssh -F <this config> -W [node]:22 undercloud``).

    A master started with ControlPersist detaches from the ssh that spawned its ProxyCommand: when it
    exits, the proxy only gets EOF, and ``ssh -W`` then waits for the far end to close its side. A node
    whose domain goes next (destroy, revert) never does, and the proxy with its connection to the
    virthost would stay for minutes.
    """
    config = workspace / SSH_CONFIG
    if not config.exists():
        return
    for node in sorted(nodes, key=lambda name: name == "undercloud"):
        subprocess.run(
            ["ssh", "-F", str(config), "-O", "exit", node], capture_output=True, timeout=10, check=False
        )
    for pid in _proxies(config):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def _proxies(config: Path) -> list[int]:
    """This machine's ``ssh -W`` processes of this lab: ``ssh -W <node>:22 ...`` for the nodes the config
    reaches by one (an ssh virthost's ProxyCommand), and any ``ssh -F <config> -W ...`` (ProxyJump's)."""
    targets, host = set(), None
    for line in config.read_text().splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "HostName":
            host = value.strip()
        elif key == "ProxyCommand" and value.strip().startswith("ssh -W %h:%p") and host:
            targets.add(f"{host}:22")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [word.decode(errors="replace") for word in argv if word]
        if not words or Path(words[0]).name != "ssh" or "-W" not in words:
            continue
        if _after(words, "-W") in targets or _after(words, "-F") == str(config):
            found.append(int(entry.name))
    return found


def _after(words: list[str], flag: str) -> str:
    """The word after ``flag`` in an argv ("" if there is none)."""
    at = words.index(flag) + 1 if flag in words else len(words)
    return words[at] if at < len(words) else ""


def write_inventory(workspace: Path, layout: Layout) -> Path:
    """An Ansible inventory: groups undercloud, overcloud and one per role, using the ssh config."""
    ssh_args = f"-F {workspace / SSH_CONFIG}"
    hosts = {node.name: {"ansible_host": node.name, "ctlplane_ip": node.ctlplane_ip} for node in layout.nodes}
    groups: dict[str, dict] = {"undercloud": {"hosts": {"undercloud": hosts["undercloud"]}}}
    overcloud: dict[str, dict] = {}
    for node in layout.nodes:
        if not node.undercloud:
            overcloud.setdefault(node.role, {"hosts": {}})["hosts"][node.name] = hosts[node.name]
    groups["overcloud"] = {"children": overcloud}
    inventory = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_common_args": ssh_args,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "children": groups,
        }
    }
    path = workspace / INVENTORY
    _write_private(path, yaml.safe_dump(inventory, sort_keys=False))
    return path


def ssh_argv(workspace: Path, node: str, command: list[str] | None = None, batch: bool = True) -> list[str]:
    argv = ["ssh", "-F", str(workspace / SSH_CONFIG)]
    if batch:
        argv += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    return [*argv, node, *(command or [])]


def wait_for_ssh(workspace: Path, node: str, timeout: float = 600, progress=None) -> float:
    """Wait until ``node`` runs a command over SSH; return the seconds it took."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < timeout:
        result = subprocess.run(
            ssh_argv(workspace, node, ["true"]), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode == 0:
            return time.monotonic() - started
        last = (result.stderr or "").strip().splitlines()[-1:] or [""]
        last = last[0]
        if progress:
            progress(f"waiting for SSH on {node} ({time.monotonic() - started:.0f}s): {last}")
        time.sleep(3)
    raise FfulabError(
        f"{node} did not answer SSH within {timeout:.0f}s (last error: {last}); "
        f"see its console log in {workspace / 'logs' / 'console' / (node + '.log')}"
    )
