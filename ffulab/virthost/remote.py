"""The ssh virthost: another machine's libvirtd over qemu+ssh.

ffulab does not administer someone else's machine: ``prepare`` installs what this client
needs, checks the remote side and, for each gap there, stops with the command to run on it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError
from ffulab.paths import cache_root
from ffulab.virthost import hostsetup
from ffulab.virthost.base import Step, Virthost

SSH = ("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15")


class Remote(Virthost):
    kind = "ssh"

    def __init__(self, target: str):
        """``target`` is ``host`` or ``user@host``, as ssh takes it."""
        self.target = target
        self.uri = f"qemu+ssh://{target}/system"

    @property
    def spec(self) -> str:
        return f"ssh://{self.target}"

    @property
    def probe_cache(self) -> Path:
        return cache_root() / f"virt-type-{self.target.rpartition('@')[2]}.json"

    def on_host(self, argv: list[str]) -> list[str]:
        return [*SSH, self.target, shlex.join(argv)]

    def wrap(self, argv: list[str]) -> list[str]:
        return self.on_host(argv)

    def proxy_command(self) -> str:
        return f"ssh -W %h:%p {self.target}"

    def steps(self) -> list[Step]:
        install = " ".join(hostsetup.PACKAGES)
        return [
            hostsetup.python_step(),
            self._remote_step("ssh", self._ssh_missing, f"ssh-copy-id {self.target}"),
            self._remote_step(
                "remote packages",
                self._packages_missing,
                f"ssh -t {self.target} sudo apt-get install -y --no-install-recommends {install}",
            ),
            self._remote_step(
                "remote libvirtd",
                self._libvirtd_missing,
                f"ssh -t {self.target} "
                "'sudo systemctl enable --now libvirtd && sudo usermod -aG libvirt $USER'",
            ),
        ]

    def _remote_step(self, name: str, missing: Callable[[], str | None], fix: str) -> Step:
        def apply() -> list[str]:
            raise VirthostError(f"{missing()}; ffulab does not change {self.target} itself, run: {fix}")

        return Step(name, missing, apply, fix)

    def _ssh_missing(self) -> str | None:
        result = proc.run(self.on_host(["true"]), check=False, timeout=60)
        return None if result.returncode == 0 else f"cannot run commands on {self.target} over ssh"

    def _packages_missing(self) -> str | None:
        if self._ssh_missing():
            return None  # reported by the ssh step
        names = hostsetup.missing_packages(on_host=self.on_host)
        return f"packages not installed on {self.target}: {' '.join(names)}" if names else None

    def _libvirtd_missing(self) -> str | None:
        return self._libvirt_unreachable()
