"""The ssh virthost: another machine's libvirtd over qemu+ssh, and everything the lab needs there.

ffulab runs on this client; libvirt is reached as ``qemu+ssh://[user@]host/system``, and whatever
must run where the lab's bridges are runs on the remote through ``ssh [user@]host`` (``on_host``,
``wrap``): vbmcd and the ``vbmc`` commands, ipmitool for ``status``, qemu-img on the lab's disks,
the mirror's HTTP server, the downtime poller. The lab's guests are reached with
``ProxyCommand ssh -W %h:%p [user@]host``. The host is reached as the user's own ssh config says
(``~/.ssh/config``: port, key, jump hosts), in batch mode.

On the remote, ffulab keeps its files below ``REMOTE_ROOT``: ``images/<digest>/`` (the guest image,
built on this client and copied once), ``artifacts/<sha256>`` (the release mirror's archives),
``labs/<lab id>/`` (a lab's disks, console logs, vbmc config and logs) and ``users/`` (one entry per
lab workspace using the remote). ``ffulab destroy`` removes the lab's directory; the last lab gone,
the rest goes too, so nothing of ffulab's is left on the remote.

ffulab does not administer someone else's machine: ``prepare`` installs what this client needs,
checks the remote side and, for each gap there, stops with the command to run on it.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ffulab import proc
from ffulab.errors import VirthostError
from ffulab.paths import cache_root
from ffulab.virthost import hostsetup
from ffulab.virthost.base import Step, Virthost

log = logging.getLogger(__name__)

SSH = ("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15")
REMOTE_ROOT = "/var/lib/libvirt/images/ffulab"
"""ffulab's directory on the remote: beside libvirt's own images, where qemu may read disks."""
REMOTE_PACKAGES = (
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "ipmitool",
    "dnsmasq-base",
    "iptables",
    "iproute2",
    "python3",
)
"""What the lab needs on the remote. The image and the artifacts are built on this client."""
VBMC_TOOLS = ("vbmcd", "vbmc")
VBMC_INSTALL = (
    "sudo apt-get install -y pipx libvirt-dev pkg-config gcc python3-dev && "
    f"pipx install {hostsetup.PYTHON_MODULES['virtualbmc']}"
)
_FIND_TOOL = 'PATH="$HOME/.local/bin:$PATH"; command -v "$1"'
_STAGE = """set -eu
final=$1
mkdir -p "$(dirname "$final")"
[ -d "$final" ] && { cat >/dev/null; exit 0; }
tmp=$(mktemp -d "$final.part.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xf - -C "$tmp"
chmod 0755 "$tmp"
mv -T "$tmp" "$final" 2>/dev/null || true  # another lab's copy got there first: keep that one
"""
_REGISTER = """[ -d "$1" ] || { cat >/dev/null; exit 0; }
mkdir -p "$1/users" && cat > "$1/users/$2"
"""
_MAKE_ROOT = 'mkdir -p "$1" && chmod 0755 "$1"'
"""qemu, which may run as another user (libvirt-qemu), must get through to the disks below it."""
_ABSENT = """store=$1; shift
for name in "$@"; do [ -f "$store/$name" ] || echo "$name"; done
"""
_RECEIVE = """set -eu
store=$1
mkdir -p "$store"
tmp=$(mktemp -d "$store/.incoming.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xf - -C "$tmp"
cd "$tmp"
for name in *; do printf '%s  %s\\n' "$name" "$name"; done | sha256sum --quiet --strict --check -
for name in *; do chmod 0644 "$name"; mv -f "$name" "$store/$name"; done
"""
_USERS = """cd "$1" 2>/dev/null || exit 0
for f in users/*; do [ -f "$f" ] && printf '%s %s\\n' "${f#users/}" "$(cat "$f")"; done
echo ---
for d in labs/*; do [ -d "$d" ] && echo "${d#labs/}"; done
true
"""
_CLEAN = """cd / && rm -rf "$1/images" "$1/artifacts" "$1/users" "$1/labs"
rmdir "$1" 2>/dev/null || true  # kept when it is not ours to remove (made by an admin for this user)
"""


class Remote(Virthost):
    kind = "ssh"
    lab_reachable_here = False

    def __init__(self, target: str):
        """``target`` is ``host`` or ``user@host``, as ssh takes it."""
        self.target = target
        self.uri = f"qemu+ssh://{target}/system"
        self._tools: dict[str, str] = {}
        self._ssh_ok = False

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

    # files on the remote ------------------------------------------------------------------------

    def lab_dir(self, workspace: Path, lab_id: str) -> str:
        return f"{REMOTE_ROOT}/labs/{lab_id}"

    def remove(self, path: str, tree: bool = False) -> None:
        """Only ever below REMOTE_ROOT: a record pointing elsewhere is refused, not followed."""
        parts = path.split("/")
        if not path.startswith(f"{REMOTE_ROOT}/") or ".." in parts or "" in parts[1:]:
            raise VirthostError(f"refusing to remove {path} on {self.target}: not below {REMOTE_ROOT}")
        super().remove(path, tree)

    def stage_image(self, image_dir: Path, progress: Callable[[str], None] | None = None) -> str:
        """Copy the image directory to ``REMOTE_ROOT/images/<digest>`` once (a tar stream over ssh,
        unpacked beside its place and renamed into it, so a directory there is always whole)."""
        target = f"{REMOTE_ROOT}/images/{image_dir.name}"
        if proc.run(self.on_host(["test", "-d", target]), check=False, timeout=60).returncode == 0:
            return target
        size = sum(path.stat().st_size for path in image_dir.iterdir() if path.is_file())
        if progress:
            progress(f"image {image_dir.name[:12]}: copying {size / 2**20:.0f} MiB to {self.target}:{target}")
        started = time.monotonic()
        files = {path.name: path for path in sorted(image_dir.iterdir()) if path.is_file()}
        send_files(files, self.host_shell(_STAGE, target), what=f"copying the image to {self.target}")
        if progress:
            progress(f"image copied to {self.target} in {time.monotonic() - started:.1f} s")
        return target

    def stage_files(self, files: dict[str, Path], progress: Callable[[str], None] | None = None) -> str:
        """Copy ``files`` (named by their sha256) the remote's artifact store lacks into it; return the
        store (``REMOTE_ROOT/artifacts``). Each is checked against its name there before it is kept."""
        store = f"{REMOTE_ROOT}/artifacts"
        absent = proc.run(self.host_shell(_ABSENT, store, *files), timeout=60).stdout.split()
        if absent:
            size = sum(files[name].stat().st_size for name in absent)
            if progress:
                progress(f"copying {len(absent)} file(s), {size / 2**20:.0f} MiB, to {self.target}:{store}")
            wanted = {name: files[name] for name in absent}
            send_files(wanted, self.host_shell(_RECEIVE, store), what=f"copying artifacts to {self.target}")
        return store

    def tool(self, name: str) -> str:
        if name not in self._tools:
            found = proc.run(self.host_shell(_FIND_TOOL, name), check=False, timeout=60).stdout.strip()
            if not found.startswith("/"):
                raise VirthostError(
                    f"{name} not found on {self.target} (PATH or ~/.local/bin): "
                    f"install virtualbmc there: ssh -t {self.target} '{VBMC_INSTALL}'"
                )
            self._tools[name] = found.splitlines()[-1]
        return self._tools[name]

    # labs using the remote -------------------------------------------------------------------

    def register(self, workspace: Path) -> None:
        """Note the lab in ``REMOTE_ROOT/users``. Before ``prepare`` the remote may not answer, or have
        no such directory yet (prepare makes it, with the right mode): then nothing is noted, and the
        virthost phase registers again once prepare is done."""
        argv = self.host_shell(_REGISTER, REMOTE_ROOT, _user_key(workspace))
        result = proc.run(argv, input=f"{_client()}:{workspace}\n", check=False, timeout=60)
        if result.returncode != 0:
            log.debug("could not register %s on %s yet: %s", workspace, self.target, result.stdout)

    def users(self, leaving: Path | None = None) -> tuple[list[str], list[str]]:
        """(workspaces registered on the remote, lab directories left there); this client's entries
        whose workspace holds no lab any more, and ``leaving``'s, are dropped."""
        output = proc.run(self.host_shell(_USERS, REMOTE_ROOT), timeout=60).stdout
        entries, _, labs = output.partition("---\n")
        users = []
        for line in entries.splitlines():
            key, _, user = line.partition(" ")
            client, _, workspace = user.partition(":")
            stale = client == _client() and not (Path(workspace) / "state.json").is_file()
            if stale or (leaving is not None and key == _user_key(leaving)):
                self.remove(f"{REMOTE_ROOT}/users/{key}")
                continue
            users.append(user)
        return users, labs.split()

    def teardown_if_unused(self, conn_uri: str | None = None, leaving: Path | None = None) -> list[str]:
        """Remove ffulab's files from the remote (cached image, artifacts) once no lab uses it."""
        users, labs = self.users(leaving)
        if users:
            return [f"{self.target}:{REMOTE_ROOT} kept: lab(s) {', '.join(users)} use it"]
        if labs:
            return [f"{self.target}:{REMOTE_ROOT} kept: lab directories {', '.join(labs)} are left"]
        present = proc.run(self.on_host(["test", "-d", REMOTE_ROOT]), check=False, timeout=60)
        if present.returncode != 0:
            return []
        proc.run(self.host_shell(_CLEAN, REMOTE_ROOT), timeout=300)
        return [f"removed ffulab's files from {self.target}:{REMOTE_ROOT} (no lab uses it)"]

    # preparation ---------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        install = " ".join(REMOTE_PACKAGES)
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
            self._remote_step("remote vbmc", self._vbmc_missing, f"ssh -t {self.target} '{VBMC_INSTALL}'"),
            Step(
                "remote directory",
                self._directory_missing,
                self._make_directory,
                f"ssh -t {self.target} 'sudo install -d -m 0755 -o $USER {REMOTE_ROOT}'",
            ),
        ]

    def _remote_step(self, name: str, missing: Callable[[], str | None], fix: str) -> Step:
        def apply() -> list[str]:
            raise VirthostError(f"{missing()}; ffulab does not change {self.target} itself, run: {fix}")

        return Step(name, missing, apply, fix)

    def _ssh_missing(self) -> str | None:
        """Asked by every remote step: once it answered, it is taken as answering (one round trip)."""
        if self._ssh_ok:
            return None
        result = proc.run(self.on_host(["true"]), check=False, timeout=60)
        self._ssh_ok = result.returncode == 0
        return None if self._ssh_ok else f"cannot run commands on {self.target} over ssh"

    def _packages_missing(self) -> str | None:
        if self._ssh_missing():
            return None  # reported by the ssh step
        names = hostsetup.missing_packages(REMOTE_PACKAGES, on_host=self.on_host)
        return f"packages not installed on {self.target}: {' '.join(names)}" if names else None

    def _libvirtd_missing(self) -> str | None:
        return self._libvirt_unreachable()

    def _vbmc_missing(self) -> str | None:
        if self._ssh_missing():
            return None
        absent = []
        for name in VBMC_TOOLS:
            try:
                self.tool(name)
            except VirthostError:
                absent.append(name)
        return f"{' and '.join(absent)} not found on {self.target}" if absent else None

    def _directory_missing(self) -> str | None:
        if self._ssh_missing():
            return None
        check = proc.run(self.on_host(["test", "-d", REMOTE_ROOT, "-a", "-w", REMOTE_ROOT]), check=False)
        return None if check.returncode == 0 else f"no directory {REMOTE_ROOT} writable on {self.target}"

    def _make_directory(self) -> list[str]:
        made = proc.run(self.host_shell(_MAKE_ROOT, REMOTE_ROOT), check=False, timeout=60)
        if made.returncode != 0 or self._directory_missing():
            fix = f"ssh -t {self.target} 'sudo install -d -m 0755 -o $USER {REMOTE_ROOT}'"
            raise VirthostError(f"cannot create {REMOTE_ROOT} on {self.target}: run: {fix}")
        return [f"created {self.target}:{REMOTE_ROOT}"]


def send_files(files: dict[str, Path], argv: list[str], what: str, timeout: float = 3600) -> None:
    """Stream ``files`` (name in the archive -> local path) as one tar archive into ``argv``'s stdin
    (a command on the remote that unpacks it)."""
    with tempfile.TemporaryFile() as errors:
        receiver = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        assert receiver.stdin is not None
        try:
            with tarfile.open(fileobj=receiver.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name, path in files.items():
                    tar.add(str(path), arcname=name, recursive=False)
            receiver.stdin.close()
        except BrokenPipeError:
            pass  # the receiver failed: its exit status and stderr say why
        try:
            returncode = receiver.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.stop_process(receiver, grace=5)
            raise VirthostError(f"{what}: not done after {timeout:.0f} s") from None
        errors.seek(0)
        error = errors.read().decode(errors="replace").strip()
    if returncode != 0:
        raise VirthostError(f"{what} failed (exit {returncode}): {error[-500:]}")


def _client() -> str:
    """This client, as the remote's ``users`` entries name it."""
    return socket.gethostname()


def _user_key(workspace: Path) -> str:
    return hashlib.sha256(f"{_client()}:{workspace}".encode()).hexdigest()[:16]
