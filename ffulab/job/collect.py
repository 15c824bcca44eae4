"""``logs/``: what a person needs to debug a run without the lab, collected also after a failure.

Per node (``logs/<node>/``): the journal, unit list, the ``/etc`` configs and ``/var/log`` files of
the node's services (one tar stream) and its serial console log, read with commands that change
nothing on the node, over its SSH ControlMaster, nodes in parallel. The workspace's own run logs,
Ansible logs and downtime samples go to ``logs/ffulab/``. Every secret of the lab is redacted from
every file collected; key directories are never copied at all. A node that does not answer is
noted in ``logs/collect.txt`` and skipped.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ffulab.catalog import Catalog
from ffulab.paths import data_root
from ffulab.provision.access import SSH_CONFIG, ssh_argv
from ffulab.secrets import redact_tree, secret_values
from ffulab.state import LabState

log = logging.getLogger(__name__)

LOGS_DIR = "logs"
WORKSPACE_DIR = "ffulab"
SSH_TIMEOUT = 300
UNDERCLOUD_PATHS = ("etc/chrony", "etc/openstack", "srv/ffulab/mirror/index.json")
COMMON_PATHS = ("etc/hosts", "etc/systemd/system")
NEVER_COPIED = ("*-keys", "*.keys", "*.key", "*.pem", "id_*")
"""Key material stays on the node whatever a service path holds (key repositories, private keys...)."""

COMMANDS: dict[str, str] = {
    "journal.txt": "journalctl --no-pager -o short-iso-precise",
    "units.txt": "systemctl list-units --all --no-pager --plain",
    "ps.txt": "ps -eo pid,ppid,etime,rss,args",
    "df.txt": "df -h",
}
"""File -> the read-only command whose output it holds (each one SSH call over the node's ControlMaster)."""
TAR_SCRIPT = """\
found=""
for p in {paths}; do [ -e "/$p" ] && found="$found $p"; done
[ -z "$found" ] || tar -czf - {excludes} -C / $found 2>/dev/null
"""


def node_paths(node: dict[str, Any], roles: dict[str, Any], catalog: Catalog) -> list[str]:
    """The files and directories (relative to /) worth having from ``node``: each of its services'
    ``logs`` (roles/<svc>/ffulab.yml)."""
    if node["role"] == "undercloud":
        return [*COMMON_PATHS, *UNDERCLOUD_PATHS]
    services = (roles.get(node["role"]) or {}).get("services", [])
    paths = [*COMMON_PATHS]
    for service in services:
        entry = catalog.get(service)
        paths += entry.log_paths() if entry else [f"etc/{service}", f"var/log/{service}"]
    return paths


def tar_script(paths: list[str]) -> str:
    """A shell script writing a tar.gz of those of ``paths`` that exist to stdout; it changes nothing."""
    excludes = " ".join(f"--exclude='{pattern}'" for pattern in NEVER_COPIED)
    return TAR_SCRIPT.format(paths=" ".join(paths), excludes=excludes)


def _plain_files(members: list[tarfile.TarInfo]) -> list[tarfile.TarInfo]:
    """Regular files and directories only, with safe relative names: no links, devices or ``..``."""
    return [
        m
        for m in members
        if (m.isfile() or m.isdir()) and not m.name.startswith("/") and ".." not in Path(m.name).parts
    ]


def _ssh(workspace: Path, node: str, command: list[str], script: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        ssh_argv(workspace, node, command),
        input=script.encode(),
        capture_output=True,
        timeout=SSH_TIMEOUT,
        check=False,
    )


def collect_node(workspace: Path, node: dict[str, Any], paths: list[str], dest: Path) -> str:
    """Fetch one node's logs into ``dest`` with read-only commands; return what happened, one line."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        archive = _ssh(workspace, node["name"], ["sh", "-s"], tar_script(paths))
        if archive.returncode == 255:  # ssh's own failure: the node is not reachable
            stderr = archive.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["ssh failed"]
            return f"not reachable: {stderr[0]}"
        for name, command in COMMANDS.items():
            (dest / name).write_bytes(_ssh(workspace, node["name"], [command]).stdout)
    except subprocess.TimeoutExpired:
        return f"no answer within {SSH_TIMEOUT}s"
    files = 0
    if archive.stdout:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:gz") as tar:
                members = _plain_files(tar.getmembers())
                tar.extractall(dest, members=members, filter="data")
        except (tarfile.TarError, EOFError) as exc:
            return f"configs and logs not collected: {exc}"
        files = sum(1 for m in members if m.isfile())
    return f"{files} config and log file(s), {len(COMMANDS)} command outputs"


def copy_workspace_logs(workspace: Path, dest: Path) -> None:
    """The run logs, downtime samples and vbmcd log as they are; of each Ansible run its output only."""
    source = workspace / LOGS_DIR
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*")):
        if path.is_file() and not path.is_symlink():
            shutil.copy2(path, dest / path.name)
    for run in sorted((source / "ansible").glob("*")):
        for stream in ("stdout", "stderr"):
            output = run / stream
            if output.is_file() and output.stat().st_size:
                target = dest / "ansible" / f"{run.name}.{stream}.txt"
                target.parent.mkdir(exist_ok=True)
                shutil.copy2(output, target)


def collect_logs(
    workspace: Path, state: LabState, artifacts: Path, progress: Callable[[str], None]
) -> dict[str, str]:
    """Fill ``artifacts/logs``; return node (or ``ffulab``) -> what was collected. Never raises for a
    node that cannot be reached: a failed run is exactly when its logs matter."""
    logs = artifacts / LOGS_DIR
    if logs.exists():
        shutil.rmtree(logs)
    copy_workspace_logs(workspace, logs / WORKSPACE_DIR)
    outcome = {WORKSPACE_DIR: "run, Ansible and downtime logs of the workspace"}
    nodes = (state.layout or {}).get("nodes") or []
    roles = ((state.config or {}).get("config") or {}).get("lab", {}).get("roles", {})
    catalog = Catalog.load(data_root() / "roles")
    for node in nodes:
        console = workspace / LOGS_DIR / "console" / f"{node['name']}.log"
        if console.is_file():
            (logs / node["name"]).mkdir(parents=True, exist_ok=True)
            shutil.copy2(console, logs / node["name"] / "console.log")
    if nodes and (workspace / SSH_CONFIG).is_file():
        progress(f"collecting logs from {', '.join(n['name'] for n in nodes)}")
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            futures = {
                node["name"]: pool.submit(
                    collect_node, workspace, node, node_paths(node, roles, catalog), logs / node["name"]
                )
                for node in nodes
            }
            for name, future in futures.items():
                outcome[name] = future.result()
                progress(f"logs of {name}: {outcome[name]}")
    redacted = redact_tree(logs, secret_values(workspace))
    log.info("logs collected into %s (%d file(s) had secrets redacted)", logs, redacted)
    (logs / "collect.txt").write_text("".join(f"{name}: {line}\n" for name, line in outcome.items()))
    return outcome
