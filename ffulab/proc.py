"""Run external commands the same way everywhere: logged, checked, optionally in a netns."""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Sequence

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
