"""A second machine for the ``ssh://`` virthost, made of namespaces: sshd, libvirtd and virtlogd of its own.

The "remote host" is a network namespace (``ffulab-remote-test``) plus a private mount namespace in
which ``/etc/libvirt``, ``/var/lib/libvirt``, ``/var/log/libvirt``, ``/var/cache/libvirt`` and ``/run``
are directories of the test, so its libvirtd shares nothing with this machine's (the sandbox's
sockets, pid files and domain definitions stay untouched). Its sshd listens on 127.0.0.1 *of that
netns* only. The client (ffulab, libvirt's qemu+ssh, Ansible) reaches it through an ssh config whose
ProxyCommand is ``ip netns exec ffulab-remote-test socat - TCP:127.0.0.1:22``: the bytes go over a
pipe into the netns and then over its own loopback, so no packet leaves the host's namespace for a
private address, and no interface or route is added to the host's namespace. Everything the lab does
on the remote (bridges, guests, BMCs, HTTP, the poller) lives in that netns.

That ssh config is what a developer has in ``~/.ssh/config`` for a lab server. ssh reads the real
home's config, which a test must not touch, so the test puts an ``ssh`` first on ffulab's PATH that
adds ``-F <the test's config>`` when no ``-F`` is given (libvirt's qemu+ssh and ProxyCommands run
``ssh`` from PATH too); ffulab's own ``-F WS/ssh.config.ansible`` calls pass through unchanged.

The remote's daemons run under names of their own (``ffr-libvirtd``, ``ffr-virtlogd``: symlinks, so
``comm`` differs) so that another lab's sandbox on this machine never takes them for a stranger
libvirtd owning /run/libvirt.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

NETNS = "ffulab-remote-test"
HOST = NETNS
"""The name ffulab is given (``--virthost ssh://root@ffulab-remote-test``); the test's ssh config maps it."""
SPEC = f"ssh://root@{HOST}"
PRIVATE_DIRS = ("/etc/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
LIBVIRT_CONFIGS = ("libvirt.conf", "libvirt-admin.conf", "qemu.conf")
"""Copied from this machine's /etc/libvirt; its qemu/ (domain and network definitions) is not."""
QEMU_SETTINGS = {"user": '"root"', "group": '"root"', "dynamic_ownership": "0"}

BOOT = r"""
set -eu
root=$1
mount --bind "$root/etc-libvirt" /etc/libvirt
mount --bind "$root/var-lib-libvirt" /var/lib/libvirt
mount --bind "$root/var-log-libvirt" /var/log/libvirt
mount --bind "$root/var-cache-libvirt" /var/cache/libvirt
mount -t tmpfs -o mode=0755 ffulab-remote-run /run
mkdir -p /run/sshd /run/libvirt /run/lock
chmod 0755 /run/sshd
ip link set lo up
"$root/bin/ffr-virtlogd" -d -p /run/virtlogd.pid
"$root/bin/ffr-libvirtd" -d -p /run/libvirtd.pid
exec /usr/sbin/sshd -D -f "$root/sshd_config" -E "$root/sshd.log"
"""


def _run(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=True, **kwargs)


class RemoteHost:
    """The remote machine: ``start`` it, point ffulab at it with ``env``, ``stop`` it (nothing left)."""

    def __init__(self, root: Path):
        self.root = root
        self.process: subprocess.Popen | None = None

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    def env(self) -> dict[str, str]:
        """ffulab's environment: the test's ``ssh`` first on PATH."""
        return {**os.environ, "PATH": f"{self.root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}

    def ssh(self, command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on the remote as ffulab would reach it."""
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", HOST, command],
            capture_output=True, text=True, timeout=timeout, check=check,
        )  # fmt: skip

    def start(self) -> None:
        if Path(f"/run/netns/{NETNS}").exists():  # a run killed mid-test left it; all in it was the test's
            self.stop()
        self._files()
        _run("ip", "netns", "add", NETNS)
        with (self.root / "boot.log").open("ab") as boot_log:
            self.process = subprocess.Popen(
                ["ip", "netns", "exec", NETNS, "unshare", "--mount", "--propagation", "private", "--",
                 "sh", "-c", BOOT, "ffulab-remote-boot", str(self.root)],
                stdin=subprocess.DEVNULL, stdout=boot_log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            result = self.ssh("virsh -c qemu:///system version", check=False, timeout=30)
            if result.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                boot = (self.root / "boot.log").read_text()
                raise RuntimeError(f"the remote host did not come up: {result.stderr}\n{boot}")
            time.sleep(0.5)

    def pids(self) -> list[int]:
        """Every process in the remote's netns (all started by this test)."""
        result = subprocess.run(["ip", "netns", "pids", NETNS], capture_output=True, text=True, check=False)
        return [int(pid) for pid in result.stdout.split()]

    def stop(self) -> None:
        """Stop every process of the remote (they are all this test's), delete its netns."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if Path(f"/run/netns/{NETNS}").exists():
            _run("ip", "netns", "delete", NETNS)

    def _files(self) -> None:
        root = self.root
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for name in ("libvirtd", "virtlogd"):
            link = bin_dir / f"ffr-{name}"
            link.unlink(missing_ok=True)
            link.symlink_to(f"/usr/sbin/{name}")
        wrapper = bin_dir / "ssh"
        wrapper.write_text(
            textwrap.dedent(f"""\
                #!/bin/sh
                # the test's stand-in for ~/.ssh/config: {self.ssh_config}
                for arg in "$@"; do [ "$arg" = -F ] && exec /usr/bin/ssh "$@"; done
                exec /usr/bin/ssh -F {self.ssh_config} "$@"
            """)
        )
        wrapper.chmod(0o755)
        etc = root / "etc-libvirt"
        (etc / "qemu" / "networks").mkdir(parents=True, exist_ok=True)
        for name in LIBVIRT_CONFIGS:
            if Path("/etc/libvirt", name).is_file():
                shutil.copyfile(Path("/etc/libvirt", name), etc / name)
        from ffulab.virthost.hostsetup import with_settings

        qemu_conf = etc / "qemu.conf"
        text, _ = with_settings(qemu_conf.read_text() if qemu_conf.exists() else "", QEMU_SETTINGS)
        qemu_conf.write_text(text)
        for name in ("var-lib-libvirt/images", "var-log-libvirt/qemu", "var-cache-libvirt/qemu"):
            (root / name).mkdir(parents=True, exist_ok=True)
        for key in ("host_key", "client_key"):
            if not (root / key).exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"ffulab-remote-test {key}",
                     "-f", str(root / key))  # fmt: skip
        shutil.copyfile(root / "client_key.pub", root / "authorized_keys")
        host_key = (root / "host_key.pub").read_text().split()
        (root / "known_hosts").write_text(f"{HOST} {host_key[0]} {host_key[1]}\n")
        path = f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        (root / "sshd_config").write_text(
            textwrap.dedent(f"""\
                ListenAddress 127.0.0.1
                Port 22
                HostKey {root / "host_key"}
                PidFile /run/sshd.pid
                AuthorizedKeysFile {root / "authorized_keys"}
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                AllowTcpForwarding yes
                MaxStartups 100
                MaxSessions 100
                SetEnv PATH={path}
                LogLevel INFO
            """)
        )
        (root / "ssh_config").write_text(
            textwrap.dedent(f"""\
                Host {HOST}
                    User root
                    HostKeyAlias {HOST}
                    IdentityFile {root / "client_key"}
                    IdentitiesOnly yes
                    UserKnownHostsFile {root / "known_hosts"}
                    StrictHostKeyChecking yes
                    ProxyCommand ip netns exec {NETNS} socat - TCP:127.0.0.1:22
            """)
        )
        for path in (root / "client_key", root / "host_key", root / "ssh_config"):
            path.chmod(0o600)
