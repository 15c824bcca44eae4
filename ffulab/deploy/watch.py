"""While an Ansible task runs long, say so: the task, the hosts still on it, what their role scripts did.

Ansible reports a task when it ends. Under TCG one role script can run for most of an hour (a compute
lab's controller deploys five services side by side in one task), and a CI log said nothing meanwhile.
Role scripts append their timed steps to ``/run/ffulab-progress/<part>`` on the node (ffulab-lib.sh,
one file per service when parts run side by side); after ``every`` seconds without a progress line
this says which task is still running where, and shows the steps those files gained since, read over
the lab's SSH master (one ``sh`` per host: no Python starts in the guest).
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ffulab.provision.access import ssh_argv

log = logging.getLogger(__name__)

EVERY = 60.0
"""Seconds without a progress line before a task still running is shown again."""

PROGRESS_DIR = "/run/ffulab-progress"

READ_SCRIPT = f"""cd {PROGRESS_DIR} 2>/dev/null || exit 0
find . -maxdepth 1 -type f -newermt "@$(( $(date +%s) - $1 ))" | sort | while read -r path; do
    sed "s|^|${{path#./}} |" "$path"
done
"""
"""Every line of the progress files changed in the last $1 seconds (guest's clock), after its part's name."""

LINE = re.compile(
    r"^(?P<part>\S+) (?:ffulab-start: (?P<started>.+)|ffulab-step: (?P<step>.+) (?P<seconds>[0-9.]+))$"
)

Reader = Callable[[Path, str, int], list[str]]
"""(workspace, host, seconds) -> progress lines"""


def read_progress(workspace: Path, host: str, seconds: int) -> list[str]:
    """The host's progress lines changed within ``seconds``, as "PART LINE"; none if it does not answer."""
    argv = ssh_argv(workspace, host, ["sh", "-s", "--", str(seconds)])
    try:
        result = subprocess.run(argv, input=READ_SCRIPT, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        log.debug("progress of %s: no answer within 30 s", host)
        return []
    if result.returncode != 0:
        log.debug("progress of %s: exit %s %s", host, result.returncode, result.stderr.strip())
        return []
    return result.stdout.splitlines()


def shown(line: str) -> str | None:
    """How a progress line reads in ffulab's output ("nova: db sync 64.2 s"), or None if it is not one."""
    match = LINE.match(line.strip())
    if not match:
        return None
    if match["started"]:
        return f"{match['part']}: {match['started']} …"
    return f"{match['part']}: {match['step']} {float(match['seconds']):.1f} s"


def readable(lines: list[str]) -> list[tuple[str, str]]:
    """(line, how it reads) for each progress line; a step's start is left out when its end is there too."""
    matches = [(line, LINE.match(line.strip())) for line in lines]
    ended = {(m["part"], m["step"]) for _line, m in matches if m and m["step"]}
    return [
        (line, text)
        for line, m in matches
        if m and not (m["started"] and (m["part"], m["started"]) in ended) and (text := shown(line))
    ]


def minutes_since(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class TaskWatch:
    """Follows which hosts are on which task (from Ansible's events) and speaks up when one is long."""

    def __init__(
        self,
        workspace: Path,
        label: str,
        progress: Callable[[str], None],
        every: float = EVERY,
        read: Reader = read_progress,
    ):
        self.workspace, self.label, self.progress = workspace, label, progress
        self.every, self.read = every, read
        self._running: dict[str, tuple[str, float]] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"watch {label}", daemon=True)

    def __enter__(self) -> TaskWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def started(self, host: str, task: str) -> None:
        with self._lock:
            self._running[host] = (task, time.monotonic())

    def ended(self, host: str) -> None:
        with self._lock:
            self._running.pop(host, None)

    def spoke(self) -> None:
        """A progress line was shown: the next word from the watch is ``every`` seconds away."""
        self._last = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(min(self.every, 5.0)):
            if time.monotonic() - self._last >= self.every:
                self.beat()

    def beat(self) -> None:
        """Say which task runs where and for how long, then the steps its hosts' scripts did since."""
        with self._lock:
            running = dict(self._running)
        self.spoke()
        tasks: dict[str, list[tuple[str, float]]] = {}
        for host, (task, since) in sorted(running.items()):
            tasks.setdefault(task, []).append((host, since))
        now = time.monotonic()
        for task, hosts in tasks.items():
            longest = now - min(since for _host, since in hosts)
            names = ", ".join(host for host, _since in hosts)
            self.progress(f"{self.label}: {task}: still running on {names} ({minutes_since(longest)})")
            for host, since in hosts:
                lines = self.read(self.workspace, host, int(now - since) + 2)
                with self._lock:
                    if self._running.get(host) != (task, since):
                        continue  # the task ended meanwhile: its output is in the result, after its line
                for line, text in readable(lines):
                    if (host, task, line) not in self._seen:
                        self._seen.add((host, task, line))
                        self.progress(f"{self.label}: {host}: {text}")
