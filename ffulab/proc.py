"""Run external commands the same way everywhere: logged, checked, optionally in a netns."""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ffulab.errors import FfulabError
from ffulab.secrets import redact

log = logging.getLogger(__name__)


class CommandError(FfulabError):
    """An external command exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str):
        self.argv, self.returncode, self.output = list(argv), returncode, output
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"command failed (exit {returncode}): {shlex.join(argv)}\n{tail}")


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` so it runs inside network namespace ``netns`` (if any)."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    secrets: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (in ``netns`` if given), capture stdout+stderr, raise CommandError on failure.

    ``secrets`` (passwords passed as arguments) never appear in the log or in errors.
    """
    full = in_netns(netns, argv)
    log.debug("run: %s", redact(shlex.join(full), secrets))
    result = subprocess.run(
        full,
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if result.stdout:
        log.debug("output of %s:\n%s", full[0], redact(result.stdout.rstrip(), secrets))
    if check and result.returncode != 0:
        shown = [redact(arg, secrets) for arg in full]
        raise CommandError(shown, result.returncode, redact(result.stdout or "", secrets))
    return result


def stop_process(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; wait for it either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc (processes that end meanwhile are left out)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            found[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return found


def kill_children_named(word: str) -> list[int]:
    """SIGKILL this process's children whose command line has ``word``, and everything below them.

    By parentage, not by process group: a child's own children may have made sessions of their own
    (Ansible's workers do), and a kill of the child's group misses them. Returns the pids killed."""
    parents = _parents()
    below: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        below.setdefault(parent, []).append(pid)
    todo = []
    for pid in below.get(os.getpid(), []):
        try:
            if word in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                todo.append(pid)
        except OSError:
            continue
    killed = []
    while todo:
        pid = todo.pop()
        todo += below.get(pid, [])
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            continue
    return killed
