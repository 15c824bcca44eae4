"""Boot a built image once with plain qemu and reach it over SSH, to prove the image itself works.

No libvirt and no bridge: TCG, user-mode networking, the guest's port 22 forwarded to 127.0.0.1 only,
a linked-clone overlay so the cached base stays untouched, a fresh ed25519 key passed on the kernel
command line exactly as a lab passes its own. Used by the functional test and the bench.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from ffulab.errors import ImageError
from ffulab.image.boot import kernel_cmdline
from ffulab.image.build import ImageArtifacts
from ffulab.proc import run, stop_process


class SmokeVM:
    """A throwaway qemu guest of ``image`` whose files (overlay, key, console.log) live in ``workdir``."""

    def __init__(
        self,
        image: ImageArtifacts,
        workdir: Path,
        hostname: str = "ffulab-smoke",
        memory_mib: int = 1024,
        *,
        vcpus: int = 2,
        accel: str = "tcg",
        cmdline_extra: str = "",
        qemu_extra: tuple[str, ...] = (),
    ):
        """``accel``, ``cmdline_extra``, ``qemu_extra``: knobs for bench/guest.py and bench/nested.py."""
        self.image, self.workdir, self.hostname, self.memory_mib = image, workdir, hostname, memory_mib
        self.vcpus, self.accel, self.cmdline_extra, self.qemu_extra = vcpus, accel, cmdline_extra, qemu_extra
        self.key = workdir / "id_ed25519"
        self.overlay = workdir / "overlay.qcow2"
        self.console = workdir / "console.log"
        self.port = 0
        self.started = 0.0
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SmokeVM:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Make the key and the overlay, then start qemu in the background."""
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ffulab-smoke", "-f", str(self.key)])
        base = str(self.image.disk)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", str(self.overlay)])
        self.port = _free_loopback_port()
        pubkey = self.key.with_suffix(".pub").read_text()
        cmdline = f"{kernel_cmdline(self.hostname, pubkey)} {self.cmdline_extra}".strip()
        argv = [
            "qemu-system-x86_64", "-accel", self.accel, "-m", str(self.memory_mib), "-smp", str(self.vcpus),
            "-no-reboot", "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", cmdline,
            "-drive", f"file={self.overlay},if=virtio,format=qcow2",
            "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-display", "none", "-serial", f"file:{self.console}",
            *self.qemu_extra,
        ]  # fmt: skip
        with open(self.workdir / "qemu.log", "wb") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.started = time.monotonic()

    def wait_for_ssh(self, timeout: float = 300) -> float:
        """Seconds from qemu's start until ``ssh root@`` works; raise with the console's tail if never."""
        assert self.process, "start() first"
        deadline = self.started + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ImageError("boot", f"qemu exited with {code}:\n{self._tail('qemu.log')}")
            if run(self._ssh_argv("true"), check=False, timeout=60).returncode == 0:
                return round(time.monotonic() - self.started, 1)
            if time.monotonic() > deadline:
                console = self._tail("console.log")
                raise ImageError("boot", f"no SSH after {timeout:.0f} s; the console ends:\n{console}")
            time.sleep(1)

    def ssh(self, command: str) -> str:
        """Run ``command`` in the guest as root; its stdout+stderr."""
        return run(self._ssh_argv(command), timeout=120).stdout

    def stop(self) -> None:
        """Stop qemu (SIGTERM, then SIGKILL after 10 s) and wait for it."""
        if self.process:
            stop_process(self.process)

    def _ssh_argv(self, command: str) -> list[str]:
        return [
            "ssh", "-i", str(self.key), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
            "root@127.0.0.1", command,
        ]  # fmt: skip

    def _tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / name
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (qemu fails loudly in the rare case it is taken meanwhile)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
