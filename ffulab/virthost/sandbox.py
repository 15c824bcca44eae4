"""The sandbox virthost: a libvirtd of ffulab's own inside a network namespace (CI, shared machines).

The lab's bridges then exist only in that namespace, so nothing the lab does can touch the
host's networks, and whatever talks to a guest address runs in the namespace too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError
from ffulab.virthost import daemons, hostsetup
from ffulab.virthost.base import Step, Virthost
from ffulab.virthost.connection import libvirt_open

NETNS = "ffulab-sandbox"
RUN_DIR = Path("/run/ffulab-sandbox")
USERS_DIR = RUN_DIR / "labs"
"""One file per lab workspace that uses the sandbox (see ``register``)."""


class Sandbox(Virthost):
    kind = "sandbox"
    spec = "sandbox"
    netns = NETNS
    probe_cache = RUN_DIR / "virt-type.json"

    def __init__(self) -> None:
        self.pidfile = daemons.PidFile(RUN_DIR / "pids.json")

    def steps(self) -> list[Step]:
        return [
            Step(
                "host libvirtd",
                self._strangers,
                self._refuse_strangers,
                fix="stop that libvirtd (e.g. systemctl stop libvirtd), or use --virthost local",
            ),
            hostsetup.packages_step(),
            hostsetup.python_step(),
            hostsetup.accounts_step(),
            hostsetup.qemu_conf_step(after_change=self._stop_daemons),
            hostsetup.dirs_step(),
            Step("netns", self._netns_missing, self._add_netns),
            Step("daemons", self._daemons_missing, self._start_daemons),
        ]

    def wrap(self, argv: list[str]) -> list[str]:
        return proc.in_netns(NETNS, argv)

    def proxy_command(self) -> str:
        return f"ip netns exec {NETNS} socat - TCP:%h:%p"

    def register(self, workspace: Path) -> None:
        USERS_DIR.mkdir(parents=True, exist_ok=True)
        (USERS_DIR / _user_key(workspace)).write_text(str(workspace))

    def users(self) -> list[Path]:
        """Workspaces registered on the sandbox whose lab still exists (stale entries are dropped)."""
        found = []
        for entry in USERS_DIR.glob("*") if USERS_DIR.is_dir() else []:
            workspace = Path(entry.read_text())
            if (workspace / "state.json").is_file():
                found.append(workspace)
            else:
                entry.unlink(missing_ok=True)
        return found

    def teardown_if_unused(self, conn_uri: str | None = None, leaving: Path | None = None) -> list[str]:
        """Stop the sandbox's daemons and delete its netns once no other lab is registered on it and
        libvirt there has no domain or network (a lab between its virthost and provision phases has
        no libvirt object yet, but is registered)."""
        if leaving is not None:
            (USERS_DIR / _user_key(leaving)).unlink(missing_ok=True)
        others = [w for w in self.users() if w != leaving]
        if others:
            return [f"sandbox kept: lab(s) {', '.join(map(str, others))} use it"]
        namespace = daemons.named_netns_inode(NETNS)
        if namespace is None and not self.pidfile.load():
            return []
        if "libvirtd" in self._ours():
            with libvirt_open(conn_uri or self.uri) as conn:
                domains, networks = conn.listAllDomains(), conn.listAllNetworks()
            if domains or networks:
                return [
                    f"sandbox kept: libvirt in netns {NETNS} still has {len(domains)} domain(s) "
                    f"and {len(networks)} network(s)"
                ]
        lines = self._stop_daemons()
        if namespace is not None:
            left = proc.run(["ip", "netns", "pids", NETNS]).stdout.split()
            if left:
                return [*lines, f"netns {NETNS} kept: processes {', '.join(left)} still run in it"]
            proc.run(["ip", "netns", "delete", NETNS])
            lines.append(f"deleted netns {NETNS}")
        return lines

    def _netns_missing(self) -> str | None:
        return None if daemons.named_netns_inode(NETNS) else f"no network namespace {NETNS}"

    def _add_netns(self) -> list[str]:
        proc.run(["ip", "netns", "add", NETNS])
        proc.run(["ip", "link", "set", "lo", "up"], netns=NETNS)
        return [f"created netns {NETNS}"]

    def _ours(self) -> dict[str, int]:
        """Recorded daemons that still run, in the sandbox's netns."""
        namespace = daemons.named_netns_inode(NETNS)
        return {
            name: pid
            for name, pid in self.pidfile.load().items()
            if daemons.running(pid, name) and namespace and daemons.netns_inode(pid) == namespace
        }

    def _strangers(self) -> str | None:
        """A libvirtd ffulab did not start owns /run/libvirt's sockets: the sandbox cannot share them.
        One with a /run/libvirt of its own (another mount namespace: a container, a test's remote host)
        owns nothing of ours.

        Checked first, so that prepare refuses before it creates anything.
        """
        recorded = set(self.pidfile.load().values())
        pids = [
            str(pid)
            for pid in daemons.processes("libvirtd")
            if pid not in recorded and daemons.sees_same(pid)
        ]
        if not pids:
            return None
        return (
            f"a libvirtd not started by ffulab runs (pid {', '.join(pids)}) and owns /run/libvirt: "
            "stop it, or use --virthost local"
        )

    def _refuse_strangers(self) -> list[str]:
        raise VirthostError(self._strangers() or "")

    def _daemons_missing(self) -> str | None:
        ours = self._ours()
        if dead := [name for name in daemons.DAEMONS if name not in ours]:
            return f"{' and '.join(dead)} not running in netns {NETNS}"
        try:
            with libvirt_open(self.uri) as conn:
                conn.getLibVersion()
        except VirthostError as exc:
            return f"libvirtd (pid {ours['libvirtd']}) does not answer: {exc}"
        return None

    def _start_daemons(self) -> list[str]:
        lines = self._stop_daemons()
        pids: dict[str, int] = {}
        for name in daemons.DAEMONS:
            pids[name] = daemons.spawn(proc.in_netns(NETNS, [name]), self._log(name))
            self.pidfile.save(pids)
        version = daemons.wait_for_libvirt(self.uri, pids["libvirtd"], str(self._log("libvirtd")))
        started = " and ".join(f"{name} (pid {pid})" for name, pid in pids.items())
        return [*lines, f"started {started} in netns {NETNS}: libvirt {version} answers at {self.uri}"]

    def _stop_daemons(self) -> list[str]:
        """Stop the daemons this sandbox recorded (a stale netns may have left one running)."""
        recorded = self.pidfile.load()
        lines = [
            f"stopped {name} (pid {recorded[name]})"
            for name in reversed(daemons.DAEMONS)
            if name in recorded and daemons.stop(recorded[name], name)
        ]
        self.pidfile.remove()
        return lines

    @staticmethod
    def _log(name: str) -> Path:
        return daemons.LOG_DIR / f"sandbox-{name}.log"


def _user_key(workspace: Path) -> str:
    return hashlib.sha256(str(workspace).encode()).hexdigest()[:16]
