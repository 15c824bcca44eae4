"""What every virthost kind provides (molecule's driver base class): prepare, check, reach the lab.

A kind is a list of idempotent ``Step``s plus how commands reach the virthost and the lab's
addresses. ``prepare`` applies the steps whose ``missing`` says something is missing; ``check``
only collects those answers, each with the command that fixes it.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ffulab import proc
from ffulab.errors import FfulabError, VirthostError
from ffulab.paths import cache_root
from ffulab.virthost import probe
from ffulab.virthost.connection import dotted_version, libvirt_open
from ffulab.virthost.report import CheckReport, Missing

LIBVIRT_STATE_DIR = "/var/lib/libvirt"


@dataclass(frozen=True)
class Step:
    """One idempotent piece of preparation."""

    name: str
    missing: Callable[[], str | None]
    """What is missing, in words; None when this step is already in place."""
    apply: Callable[[], list[str]]
    """Provide it; return what changed, one human line each."""
    fix: str | None = None
    """The command a person runs when ffulab cannot provide it itself (default: ``prepare``)."""


class Virthost(ABC):
    """The machine whose libvirt runs the lab, and the way to reach the lab's addresses.

    ffulab runs on the *client*; the virthost may be this machine (local, sandbox) or another one
    (ssh). Whatever must run where the lab is (vbmcd and vbmc, IPMI, the mirror's HTTP server, the
    downtime poller, qemu-img on the lab's disks) goes through ``on_host`` / ``wrap``, and every path
    the virthost's libvirt or daemons read is a path *on the virthost* (``lab_dir``, ``stage_image``).
    """

    kind: ClassVar[str]
    uri: str = "qemu:///system"
    """libvirt as this client reaches it."""
    host_uri: ClassVar[str] = "qemu:///system"
    """libvirt as the virthost itself reaches it (what vbmcd, running there, connects to)."""
    netns: str | None = None
    lab_reachable_here: ClassVar[bool] = True
    """Whether this client can reach the lab's addresses itself (directly or in ``netns``); an ssh
    virthost's bridges are on the other machine, reached only through ``wrap`` and ``proxy_command``."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The ``--virthost`` value that selects this virthost."""

    @property
    @abstractmethod
    def probe_cache(self) -> Path:
        """Where the virt-type decision is cached."""

    @abstractmethod
    def steps(self) -> list[Step]:
        """The preparation of this kind, in order."""

    def on_host(self, argv: list[str]) -> list[str]:
        """Prefix so that ``argv`` runs on the virthost machine (not necessarily in the lab's netns)."""
        return list(argv)

    def wrap(self, argv: list[str]) -> list[str]:
        """Prefix so that ``argv`` reaches the lab's addresses (bridges, guests, BMCs)."""
        return list(argv)

    def proxy_command(self) -> str | None:
        """An ssh ProxyCommand that reaches a guest address from this client, or None if direct."""
        return None

    # where the lab's files live on the virthost --------------------------------------------------

    def lab_dir(self, workspace: Path, lab_id: str) -> str:
        """The directory on the virthost for the lab's disks, console logs and BMC config: the
        workspace itself when the virthost is this machine."""
        return str(workspace)

    def stage_image(self, image_dir: Path, progress: Callable[[str], None] | None = None) -> str:
        """The image directory (from this client's cache) as the virthost sees it; copied there if needed."""
        return str(image_dir)

    def tool(self, name: str) -> str:
        """The path on the virthost of one of ffulab's Python tools (``vbmc``, ``vbmcd``)."""
        path = Path(sys.executable).parent / name
        if not path.exists():
            raise VirthostError(f"{name} not found next to {sys.executable}: run 'ffulab virthost prepare'")
        return str(path)

    def make_dir(self, path: str, mode: int | None = None) -> None:
        """``mkdir -p`` on the virthost; ``path`` itself gets ``mode`` when one is given."""
        if mode is None:
            proc.run(self.on_host(["mkdir", "-p", path]), timeout=60)
        else:
            script = 'mkdir -p "$1" && chmod "$2" "$1"'
            proc.run(self.host_shell(script, path, f"{mode:o}"), timeout=60)

    def put_file(self, path: str, content: str, mode: int = 0o600) -> None:
        """Write ``content`` to ``path`` on the virthost, atomically, through stdin (never a command line)."""
        script = (
            'set -e; umask 077; mkdir -p "$(dirname "$1")"; cat > "$1.ffulab-tmp"; '
            'chmod "$2" "$1.ffulab-tmp"; mv -f "$1.ffulab-tmp" "$1"'
        )
        proc.run(self.host_shell(script, path, f"{mode:o}"), input=content, timeout=60)

    def remove(self, path: str, tree: bool = False) -> None:
        """Remove a file (``tree``: a directory and all below it) on the virthost; gone already is fine."""
        proc.run(self.on_host(["rm", "-rf" if tree else "-f", "--", path]), timeout=300)

    def host_shell(self, script: str, *args: str) -> list[str]:
        """``sh -c SCRIPT`` with ``args`` on the virthost machine."""
        return self.on_host(["sh", "-c", script, "sh", *args])

    def register(self, workspace: Path) -> None:
        """Note that the lab at ``workspace`` uses this virthost (a shared one stays while any lab does)."""
        return None

    def teardown_if_unused(self, conn_uri: str | None = None, leaving: Path | None = None) -> list[str]:
        """Stop what ffulab started for this virthost if no lab uses it any more; return what was done.

        ``leaving`` is the workspace of a lab being destroyed: it no longer counts as a user.
        """
        return []

    def _libvirt_unreachable(self) -> str | None:
        """Why libvirt at ``self.uri`` does not answer, or None when it does."""
        try:
            with libvirt_open(self.uri) as conn:
                conn.getLibVersion()
        except VirthostError as exc:
            return str(exc)
        return None

    def fix_command(self) -> str:
        return f"ffulab virthost prepare --virthost {self.spec}"

    def to_record(self) -> dict[str, Any]:
        """What a workspace's state file keeps; ``ffulab.virthost.from_record`` reads it back."""
        return {"kind": self.kind, "spec": self.spec, "uri": self.uri, "netns": self.netns}

    def prepare(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Install and start what is missing, then decide the virt type; return what changed."""
        changed = self.start(progress)
        result, fresh = self.virt_type()
        if fresh:
            changed.append(f"virt type: {result.virt_type} ({result.reason})")
        return changed

    def start(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Install and start what is missing (after a reboot: the daemons); return what changed."""
        changed: list[str] = []
        for step in self.steps():
            gap = step.missing()
            if gap is None:
                continue
            if progress:
                progress(f"{step.name}: {gap}")
            changed += step.apply()
        return changed

    def virt_type(self) -> tuple[probe.ProbeResult, bool]:
        """The libvirt domain type to use (cached per kernel) and whether it was probed just now."""
        return probe.virt_type(self.on_host, self.probe_cache)

    def check(self) -> CheckReport:
        """Report facts and gaps without changing anything (except filling the probe cache)."""
        fix = self.fix_command()
        report = CheckReport(kind=self.kind, uri=self.uri, netns=self.netns)
        report.missing = [Missing(gap, step.fix or fix) for step in self.steps() if (gap := step.missing())]
        try:
            with libvirt_open(self.uri, readonly=True) as conn:
                report.libvirt_version = dotted_version(conn.getLibVersion())
        except VirthostError as exc:
            if not report.missing:
                report.missing.append(Missing(str(exc), fix))
        try:
            result, _ = self.virt_type()
            report.virt_type, report.virt_type_reason = result.virt_type, result.reason
        except FfulabError as exc:
            report.missing.append(Missing(f"virt type unknown: {exc}", fix))
        report.memory_total_mib, report.memory_available_mib = self._memory_mib()
        report.disk_free_mib = {
            str(cache_root()): _local_free_mib(cache_root()),
            LIBVIRT_STATE_DIR: self._host_free_mib(LIBVIRT_STATE_DIR),
        }
        return report

    def _memory_mib(self) -> tuple[int | None, int | None]:
        result = proc.run(self.on_host(["cat", "/proc/meminfo"]), check=False)
        fields = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)

        def mib(key: str) -> int | None:
            value = fields.get(key, "").split()
            return int(value[0]) // 1024 if value else None

        return mib("MemTotal"), mib("MemAvailable")

    def _host_free_mib(self, path: str) -> int | None:
        result = proc.run(self.on_host(["df", "-Pk", path]), check=False)
        rows = result.stdout.splitlines()
        return int(rows[-1].split()[3]) // 1024 if result.returncode == 0 and len(rows) > 1 else None


def _local_free_mib(path: Path) -> int:
    """Free space where ``path`` is or would be created (its nearest existing parent)."""
    while not path.exists():
        path = path.parent
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize // (1024 * 1024)
