"""The local virthost: this machine's own libvirtd (qemu:///system), as a distribution runs it.

ffulab installs what is missing and asks systemd to start libvirtd; it never starts or stops
a host libvirtd by hand (that is the sandbox's job, in its own namespace).
"""

from __future__ import annotations

from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError
from ffulab.paths import cache_root
from ffulab.virthost import daemons, hostsetup
from ffulab.virthost.base import Step, Virthost

SYSTEMD = Path("/run/systemd/system")


class Local(Virthost):
    kind = "local"
    spec = "local"

    @property
    def probe_cache(self) -> Path:
        return cache_root() / "virt-type.json"

    def steps(self) -> list[Step]:
        return [
            # with systemd, Debian's libvirtd service and its sockets come with libvirt-daemon-system
            hostsetup.packages_step(("libvirt-daemon-system",) if SYSTEMD.is_dir() else ()),
            hostsetup.python_step(),
            Step("libvirtd", self._libvirtd_missing, self._start_libvirtd),
        ]

    def _sandboxed(self) -> str | None:
        """A libvirtd in another netns answers qemu:///system too, but its bridges are not reachable here."""
        ours = daemons.netns_inode()
        pids = [
            str(pid)
            for pid in daemons.processes("libvirtd")
            if daemons.netns_inode(pid) not in (None, ours) and daemons.sees_same(pid)
        ]
        if not pids:
            return None
        return (
            f"the libvirtd at {self.uri} (pid {', '.join(pids)}) runs in another network namespace: "
            "use --virthost sandbox"
        )

    def _libvirtd_missing(self) -> str | None:
        return self._sandboxed() or self._libvirt_unreachable()

    def _start_libvirtd(self) -> list[str]:
        if sandboxed := self._sandboxed():
            raise VirthostError(sandboxed)
        if not SYSTEMD.is_dir():
            raise VirthostError(
                f"libvirtd does not answer at {self.uri} and there is no systemd to start it: "
                "start libvirtd yourself, or use --virthost sandbox (as root)"
            )
        proc.run(["systemctl", "start", "libvirtd.service"])
        version = daemons.wait_for_libvirt(self.uri, None, "journalctl -u libvirtd")
        return [f"started libvirtd.service: libvirt {version} answers at {self.uri}"]
