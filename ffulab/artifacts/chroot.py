"""Run commands chrooted into a root tree without changing it: an overlay in a throwaway namespace.

Each call starts ``unshare --mount --pid --fork`` with private mount propagation, mounts there an
overlay (read-only lower trees, an upper dir on top, on disk or in a tmpfs), /proc and the binds,
and chroots into it. Nothing is mounted in ffulab's own namespace, so when the call ends, or is
killed at any point, every mount is gone with its namespace: the cached root trees stay pristine and
a work dir can always be deleted. The command runs with a small clean environment (no pip, uv or
proxy settings of the host leak in unless passed on purpose).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ffulab.errors import ArtifactError
from ffulab.proc import CommandError

log = logging.getLogger(__name__)

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
"""Host variables a build may need to reach the package index; everything else is left behind."""

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Overlay:
    """An overlay of ``lowers`` (top first) under ``base``: ``upper``, overlayfs' ``ovl-work``, ``merged``.

    With ``tmpfs`` the three live in a tmpfs mounted at ``base`` inside the namespace: fast to write,
    and gone with the namespace, so there is nothing to delete (or to leave behind) afterwards.
    """

    base: Path
    lowers: tuple[Path, ...]
    binds: Mapping[str, Path] = field(default_factory=dict)
    """Path inside the root -> host directory bind-mounted there (e.g. the uv cache)."""
    tmpfs: bool = False

    @classmethod
    def create(
        cls, base: Path, lowers: Sequence[Path], binds: Mapping[str, Path] | None = None, tmpfs: bool = False
    ) -> Overlay:
        """Make the directories of an overlay of ``lowers`` (top first) at ``base``."""
        for path in (*lowers, base):
            if any(char in str(path) for char in ":,\n"):
                raise ArtifactError("overlay", f"path not usable in overlay options: {path}")
        overlay = cls(base, tuple(lowers), dict(binds or {}), tmpfs)
        for path in (overlay.upper, overlay.work, overlay.merged):
            path.mkdir(parents=True, exist_ok=True)
        return overlay

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "ovl-work"

    @property
    def merged(self) -> Path:
        return self.base / "merged"

    def mount_script(self, prepare: str = "") -> str:
        """Shell lines mounting (a tmpfs,) the overlay, /proc and the binds; ``prepare`` runs before it."""
        merged = shlex.quote(str(self.merged))
        lines = ["set -e"]
        if self.tmpfs:
            dirs = " ".join(shlex.quote(str(path)) for path in (self.upper, self.work, self.merged))
            lines += [
                f"mount -t tmpfs -o mode=0755 ffulab-tmpfs {shlex.quote(str(self.base))}",
                f"mkdir {dirs}",
            ]
        if prepare:
            lines.append(prepare)
        lowerdir = ":".join(str(path) for path in self.lowers)
        options = f"lowerdir={lowerdir},upperdir={self.upper},workdir={self.work}"
        lines += [
            f"mount -t overlay ffulab-overlay -o {shlex.quote(options)} {merged}",
            f"mount -t proc proc {merged}/proc",
            f"mount -t tmpfs -o mode=1777 tmpfs {merged}/dev/shm",
        ]
        for inside, host in sorted(self.binds.items()):
            target = shlex.quote(f"{self.merged}/{inside.lstrip('/')}")
            lines += [f"mkdir -p {target}", f"mount --bind {shlex.quote(str(host))} {target}"]
        return "\n".join(lines)

    def chroot(self, argv: Sequence[str]) -> str:
        """The shell command running ``argv`` in the merged root (for a script after mount_script)."""
        return f"chroot {shlex.quote(str(self.merged))} {shlex.join(argv)}"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a chrooted command: PATH, HOME, a UTF-8 locale, proxies, ``extra``."""
    env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp"}
    env.update({name: os.environ[name] for name in PASSED_ENV if os.environ.get(name)})
    env.update(extra or {})
    return env


def namespace_argv(script: str) -> list[str]:
    """``sh -c script`` in new mount (private propagation) and PID namespaces, killed with its parent."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
        "sh",
        "-c",
        script,
    ]


def chroot_argv(overlay: Overlay, argv: Sequence[str], prepare: str = "", after: str = "") -> list[str]:
    """The host command line that runs ``argv`` chrooted into ``overlay`` in a throwaway namespace.

    ``prepare``: shell lines run there before the overlay is mounted (e.g. unpack a lower layer);
    ``after``: lines run there once ``argv`` has ended, outside the chroot (its exit status is kept).
    """
    chroot = overlay.chroot(argv)
    run = f"exec {chroot}" if not after else f"set +e\n{chroot}\nstatus=$?\n{after}\nexit $status"
    return namespace_argv(f"{overlay.mount_script(prepare)}\n{run}")


def run_in(
    overlay: Overlay,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float = 3600,
    prepare: str = "",
    after: str = "",
) -> str:
    """Run ``argv`` chrooted into ``overlay``; return its output (stdout+stderr), CommandError if it fails.

    ``on_line`` sees each output line as it comes (for progress). The command dies with ffulab.
    """
    argv_ = chroot_argv(overlay, argv, prepare, after)
    try:
        return stream(argv_, env=clean_env(env), on_line=on_line, timeout=timeout)
    except CommandError as error:  # name the command that failed, not the mount script around it
        raise CommandError(["chroot", str(overlay.merged), *argv], error.returncode, error.output) from None


def run_script(
    script: str,
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float = 3600,
) -> str:
    """Run a shell ``script`` (mount_script + chroot commands...) in a throwaway namespace, clean env."""
    return stream(namespace_argv(script), env=clean_env(env), on_line=on_line, timeout=timeout)


def stream(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float = 3600,
) -> str:
    """Run ``argv`` with its output read line by line; killed after ``timeout`` s or when ffulab dies."""
    log.debug("run: %s", shlex.join(argv))
    process = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=dict(env) if env is not None else None,
        preexec_fn=_die_with_parent,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if on_line:
                on_line(line.rstrip("\n"))
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines)
    if output:
        log.debug("output of %s:\n%s", argv[0], output.rstrip())
    if process.returncode != 0:
        if process.returncode == -signal.SIGKILL:
            output += f"\n(killed: no end within {timeout:.0f} s, or killed from outside)"
        raise CommandError(argv, process.returncode, output)
    return output


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when ffulab dies, so no orphan build goes on writing."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
