"""Run the project's playbooks with ansible-runner: progress per task, a log per run, clear failures.

Tasks on a TCG guest cost seconds each (DESIGN.md), so every run uses SSH pipelining and
the workspace's ssh config (ControlPersist), and reports each task as it starts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffulab.errors import FfulabError
from ffulab.paths import data_root
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
}


@dataclass
class PlaybookResult:
    """What one playbook run did: per-host changed counts and the failures, if any."""

    playbook: str
    status: str
    seconds: float
    log: Path
    changed: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.failures


class PlaybookFailed(FfulabError):
    def __init__(self, result: PlaybookResult):
        self.result = result
        first = result.failures[0] if result.failures else {"task": "?", "host": "?", "msg": result.status}
        super().__init__(
            f"{result.playbook}: task '{first['task']}' failed on {first['host']}: {first['msg']}\n"
            f"full Ansible log: {result.log}"
        )


def _failure_message(data: dict[str, Any]) -> str:
    result = data.get("res") or {}
    message = result.get("msg") or result.get("stderr") or result.get("stdout") or "failed"
    if result.get("_ansible_no_log"):
        message = "the output was hidden because of no_log: true"
    return " ".join(str(message).split())[:600]


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

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            progress(f"{label}: {data.get('task')}")
        elif kind == "runner_on_ok" and data.get("res", {}).get("changed"):
            result.changed[data["host"]] = result.changed.get(data["host"], 0) + 1
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            result.failures.append(
                {"host": data.get("host", "?"), "task": data.get("task", "?"), "msg": _failure_message(data)}
            )
        return True

    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        artifact_dir=str(logs),
        ident=ident,
        playbook=str(root / "playbooks" / playbook),
        inventory=str(workspace / INVENTORY),
        roles_path=[str(root / "roles")],
        extravars=extravars,
        limit=limit,
        envvars={**ANSIBLE_ENV, "ANSIBLE_LOCAL_TEMP": str(private / "tmp")},
        event_handler=on_event,
        quiet=True,
        rotate_artifacts=20,
    )
    result.status = runner.status
    result.seconds = round(time.monotonic() - started, 1)
    os.chmod(logs / ident, 0o700)
    if not result.ok:
        raise PlaybookFailed(result)
    return result
