"""Run the project's playbooks with ansible-runner: progress per task, a log per run, clear failures.

Tasks on a TCG guest cost seconds each (DESIGN.md), so every run uses SSH pipelining and
the workspace's ssh config (ControlPersist), and reports each task that ran (none that every
host skipped). Each result keeps every task's duration and the ``ffulab-step: NAME SECONDS``
lines role scripts print (where the time goes inside one script), and counts changed tasks per
host (idempotence). A task still running after a minute without news is shown again, with the steps its
hosts' scripts finished since (watch.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffulab import interrupts
from ffulab.deploy.watch import TaskWatch
from ffulab.errors import FfulabError
from ffulab.paths import data_root
from ffulab.proc import kill_children_named
from ffulab.provision.access import INVENTORY

ANSIBLE_ENV = {
    "ANSIBLE_PIPELINING": "True",
    "ANSIBLE_HOST_KEY_CHECKING": "False",
    "ANSIBLE_FORKS": "10",
    "ANSIBLE_GATHERING": "explicit",
    "ANSIBLE_RETRY_FILES_ENABLED": "False",
    "ANSIBLE_NOCOLOR": "True",
    "ANSIBLE_DEPRECATION_WARNINGS": "False",
    "ANSIBLE_SSH_RETRIES": "3",
    # no ssh args of Ansible's own (-C, its ControlPersist and ControlPath under ~/.ansible/cp): the
    # workspace's ssh config (-F) gives the ControlMaster that ffulab's ssh calls share and that
    # `ffulab destroy` closes; Ansible's own masters outlived a destroyed lab and held its netns
    "ANSIBLE_SSH_ARGS": "",
}

RAN = frozenset({"runner_on_ok", "runner_on_failed", "runner_item_on_ok", "runner_item_on_failed"})
"""The events that show a task ran on a host. A task is shown at the first of them, never at its start:
Ansible announces a task (``playbook_on_task_start``, and ``runner_on_start`` per host) before it
evaluates the task's ``when``, so a step's playbook would list every other step's tasks as they are
skipped. An include is shown when it includes, before the tasks it brings."""
ENDED = frozenset({"runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable"})
"""The events that end a task on a host (the watch stops counting its time there)."""

log = logging.getLogger(__name__)
CANCEL_CHECK = 1
"""Seconds between two of ansible-runner's looks at whether ffulab was interrupted (Ctrl-C, SIGTERM)."""

RENDER_DIR = "ansible/rendered"
"""Where role scripts holding secrets are rendered on the virthost (0700, files 0600) while a playbook
runs; emptied when it ends, so no secret outlives the run there."""

STEP_LINE = re.compile(r"^ffulab-step: (?P<name>.+) (?P<seconds>[0-9]+(?:\.[0-9]+)?)\r?$", re.MULTILINE)
"""What a role script prints for a timed step (roles/common/files/ffulab-lib.sh: ffulab_step)."""
WARNING_LINE = re.compile(r"^ffulab-warning: (?P<text>.+?)\r?$", re.MULTILINE)
"""What a role script prints when it does otherwise than asked (e.g. emulation instead of KVM)."""


@dataclass
class PlaybookResult:
    """What one playbook run did: per-host changed counts and the failures, if any."""

    playbook: str
    status: str
    seconds: float
    log: Path
    changed: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """Every task result: host, task, seconds, changed."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """The timed steps role scripts reported: host, task, step, seconds."""
    outputs: list[dict[str, str]] = field(default_factory=list)
    """What each script or raw task printed, failed ones too: host, role, task, stdout."""

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.failures

    @property
    def warnings(self) -> list[str]:
        """What the roles did otherwise than asked: their ``ffulab-warning: TEXT`` lines, host first."""
        return [
            f"{output['host']}: {match['text']}"
            for output in self.outputs
            for match in WARNING_LINE.finditer(output.get("stdout") or "")
        ]


class PlaybookFailed(FfulabError):
    def __init__(self, result: PlaybookResult):
        self.result = result
        if result.failures:
            first = result.failures[0]
            problem = f"task '{first['task']}' failed on {first['host']}: {first['msg']}"
            if first["msg"] == NO_LOG_MESSAGE and (error := _ansible_error(result.log)):
                problem += f"; Ansible said: {error}"
        else:  # no task failed: ansible-playbook itself did (syntax, missing role, not installed...)
            problem = f"ansible-playbook {result.status}: {_tail(result.log)}"
        super().__init__(f"{result.playbook}: {problem}\nfull Ansible log: {result.log}")


NO_LOG_MESSAGE = "the output was hidden because of no_log: true"


def _ansible_error(path: Path) -> str:
    """Ansible's own last ``[ERROR]:`` line in the run's log: it names a template or lookup problem of a
    no_log task (a missing file, an undefined variable), never a variable's value."""
    try:
        errors = [
            line for line in path.read_text(errors="replace").splitlines() if line.startswith("[ERROR]:")
        ]
    except OSError:
        return ""
    return errors[-1].removeprefix("[ERROR]:").strip()[:400] if errors else ""


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "(no output)"


def _search_path() -> str:
    """PATH with the running Python's bin/ first, so its venv's ``ansible-playbook`` is the one run."""
    here = str(Path(sys.executable).parent)
    return os.pathsep.join([here, *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != here)])


def _write_vars(directory: Path, ident: str, extravars: dict[str, Any]) -> Path:
    """The run's variables in a 0600 file passed as ``-e @file``: never on a command line, where
    ansible-runner would put ``extravars`` (its ``command`` log and ``ps`` would show every secret)."""
    directory.mkdir(mode=0o700, exist_ok=True)
    path = directory / f"{ident}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(extravars, handle)
    return path


def _failure_message(data: dict[str, Any]) -> str:
    """The task's message; for a command or script, its exit status and the end of what it printed."""
    result = data.get("res") or {}
    if result.get("_ansible_no_log"):
        return NO_LOG_MESSAGE
    message = str(result.get("msg") or "")
    if "rc" in result:
        output = "\n".join(str(result.get(key) or "") for key in ("stdout", "stderr")).strip()
        tail = " | ".join(line.strip() for line in output.splitlines()[-8:] if line.strip())
        status = f"exit {result['rc']}" if result["rc"] else "exit 0 but the script did not finish"
        message = f"{status}: {tail}" if tail else message or status
    message = message or str(result.get("stderr") or result.get("stdout") or "failed")
    return " ".join(message.split())[:900]


def script_steps(stdout: str) -> list[tuple[str, float]]:
    """The ``ffulab-step: NAME SECONDS`` lines of a role script's output."""
    return [(match["name"].strip(), float(match["seconds"])) for match in STEP_LINE.finditer(stdout or "")]


def run_playbook(
    workspace: Path,
    playbook: str,
    extravars: dict[str, Any],
    progress: Callable[[str], None],
    limit: str | None = None,
    label: str | None = None,
) -> PlaybookResult:
    """Run ``playbooks/<playbook>`` against the lab; raise PlaybookFailed naming task and host."""
    import ansible_runner

    root = data_root()
    label = label or Path(playbook).stem
    private = workspace / "ansible"
    private.mkdir(mode=0o700, exist_ok=True)
    logs = workspace / "logs" / "ansible"
    logs.mkdir(parents=True, exist_ok=True)
    ident = f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    result = PlaybookResult(playbook, "running", 0.0, logs / ident / "stdout")
    shown: set[str] = set()
    watch = TaskWatch(workspace, label, progress)

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        kind = event.get("event")
        res = data.get("res") or {}
        host, task = data.get("host", "?"), data.get("task", "?")
        if kind == "runner_on_start":
            watch.started(host, task)
        elif kind in ENDED:
            watch.ended(host)
        if kind in ("runner_on_ok", "runner_on_failed") and isinstance(res.get("stdout"), str):
            output = {"host": host, "role": data.get("role") or "", "task": task, "stdout": res["stdout"]}
            result.outputs.append(output)
        if kind in RAN and (key := data.get("task_uuid") or f"{data.get('role')}/{task}") not in shown:
            shown.add(key)
            progress(f"{label}: {task}")
            watch.spoke()
        if kind == "runner_on_ok":
            result.tasks.append(
                {
                    "host": host,
                    "task": task,
                    "seconds": data.get("duration"),
                    "changed": bool(res.get("changed")),
                }
            )
            if res.get("changed"):
                result.changed[host] = result.changed.get(host, 0) + 1
            if isinstance(res.get("stdout"), str):
                for step, seconds in script_steps(res["stdout"]):
                    result.steps.append({"host": host, "task": task, "step": step, "seconds": seconds})
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result.failures.append(
                {"host": data.get("host", "?"), "task": data.get("task", "?"), "msg": _failure_message(data)}
            )
        return True

    variables = _write_vars(private / "vars", ident, extravars)
    rendered = workspace / RENDER_DIR
    rendered.mkdir(mode=0o700, parents=True, exist_ok=True)
    started = time.monotonic()
    # ansible-playbook runs under a pty in a session of its own: ffulab's Ctrl-C or SIGTERM does not reach
    # it, so the runner is told to stop it and the KeyboardInterrupt is raised once it has. The runner
    # kills its process group only; Ansible's workers (one per host) make sessions of their own and ran
    # on, so ffulab first kills every process below it (the workers, ssh, their proxies)
    try:
        with interrupts.held(f"stopping ansible-playbook ({label})") as interrupted, watch:

            def cancel() -> bool:
                if not interrupted():
                    return False
                killed = kill_children_named("ansible-playbook")
                log.info("stopped ansible-playbook (%s): %d process(es) killed", label, len(killed))
                return True

            runner = ansible_runner.run(
                private_data_dir=str(private),
                artifact_dir=str(logs),
                ident=ident,
                playbook=str(root / "playbooks" / playbook),
                inventory=str(workspace / INVENTORY),
                roles_path=[str(root / "roles")],
                cmdline=f"-e @{variables}",
                limit=limit,
                envvars={**ANSIBLE_ENV, "ANSIBLE_LOCAL_TEMP": str(private / "tmp"), "PATH": _search_path()},
                event_handler=on_event,
                cancel_callback=cancel,
                settings={"pexpect_timeout": CANCEL_CHECK},
                quiet=True,
                rotate_artifacts=20,
            )
    finally:
        variables.unlink(missing_ok=True)
        for script in rendered.iterdir():
            script.unlink(missing_ok=True)
    result.status = runner.status
    result.seconds = round(time.monotonic() - started, 1)
    os.chmod(logs / ident, 0o700)
    if not result.ok:
        raise PlaybookFailed(result)
    return result
