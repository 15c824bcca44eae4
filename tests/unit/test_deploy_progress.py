"""Progress from Ansible's event stream: a task is shown when it ran on some host, never when every host
skipped it (an FFU step's playbook holds the tasks of every step, each with ``when: step | int == N``).

STEP_2 and STEP_6 were recorded from ansible-core 2.19 through ansible-runner 2.4: playbooks/ffu.yml's
shape (an include_role loop over a role whose tasks act at one step each, step 6 an include_tasks) on
two hosts, at ``step=2`` and ``step=6``. Rows: event, host, task, end of the task's uuid, result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ffulab.deploy import ansible

STEP_2 = [
    ("playbook_on_task_start", None, "FFU tasks of the node's services", "0005", {}),
    ("runner_on_start", "node-a", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_start", "node-b", "FFU tasks of the node's services", "0005", {}),
    ("runner_item_on_ok", "node-a", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_ok", "node-a", "FFU tasks of the node's services", "0005", {"changed": False}),
    ("runner_item_on_ok", "node-b", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_ok", "node-b", "FFU tasks of the node's services", "0005", {"changed": False}),
    ("playbook_on_include", None, "FFU tasks of the node's services", "0005", {}),
    ("playbook_on_task_start", None, "Step 2, stop the service", "0026", {}),
    ("runner_on_start", "node-a", "Step 2, stop the service", "0026", {}),
    ("runner_on_start", "node-b", "Step 2, stop the service", "0026", {}),
    ("runner_on_ok", "node-a", "Step 2, stop the service", "0026", {"changed": True, "stdout": "stopped\n"}),
    ("runner_on_ok", "node-b", "Step 2, stop the service", "0026", {"changed": True, "stdout": "stopped\n"}),
    ("playbook_on_task_start", None, "Step 6, install", "0027", {}),
    ("runner_on_start", "node-a", "Step 6, install", "0027", {}),
    ("runner_on_start", "node-b", "Step 6, install", "0027", {}),
    ("runner_on_skipped", "node-a", "Step 6, install", "0027", {}),
    ("runner_on_skipped", "node-b", "Step 6, install", "0027", {}),
    ("playbook_on_task_start", None, "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_start", "node-a", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_start", "node-b", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_skipped", "node-a", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_skipped", "node-b", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
]
STEP_6 = [
    ("playbook_on_task_start", None, "FFU tasks of the node's services", "0005", {}),
    ("runner_on_start", "node-a", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_start", "node-b", "FFU tasks of the node's services", "0005", {}),
    ("runner_item_on_ok", "node-a", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_ok", "node-a", "FFU tasks of the node's services", "0005", {"changed": False}),
    ("runner_item_on_ok", "node-b", "FFU tasks of the node's services", "0005", {}),
    ("runner_on_ok", "node-b", "FFU tasks of the node's services", "0005", {"changed": False}),
    ("playbook_on_include", None, "FFU tasks of the node's services", "0005", {}),
    ("playbook_on_task_start", None, "Step 2, stop the service", "0026", {}),
    ("runner_on_start", "node-a", "Step 2, stop the service", "0026", {}),
    ("runner_on_start", "node-b", "Step 2, stop the service", "0026", {}),
    ("runner_on_skipped", "node-a", "Step 2, stop the service", "0026", {}),
    ("runner_on_skipped", "node-b", "Step 2, stop the service", "0026", {}),
    ("playbook_on_task_start", None, "Step 6, install", "0027", {}),
    ("runner_on_start", "node-a", "Step 6, install", "0027", {}),
    ("runner_on_start", "node-b", "Step 6, install", "0027", {}),
    ("runner_on_ok", "node-a", "Step 6, install", "0027", {"changed": False, "include": "run.yml"}),
    ("runner_on_ok", "node-b", "Step 6, install", "0027", {"changed": False, "include": "run.yml"}),
    ("playbook_on_include", None, "Step 6, install", "0027", {}),
    ("playbook_on_task_start", None, "Run the script", "0040", {}),
    ("runner_on_start", "node-a", "Run the script", "0040", {}),
    ("runner_on_start", "node-b", "Run the script", "0040", {}),
    ("runner_on_ok", "node-a", "Run the script", "0040", {"changed": True, "stdout": "run\n"}),
    ("runner_on_ok", "node-b", "Run the script", "0040", {"changed": True, "stdout": "run\n"}),
    ("playbook_on_task_start", None, "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_start", "node-a", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_start", "node-b", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_skipped", "node-a", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
    ("runner_on_skipped", "node-b", "Step 9, the clock is synchronised with the undercloud", "0028", {}),
]


def recorded(rows: list[tuple]) -> list[dict]:
    return [
        {
            "event": kind,
            "event_data": {
                **({"host": host} if host else {}),
                **({"task": task, "task_uuid": f"02fc0000-0001-aab0-ab0e-00000000{uuid}"} if task else {}),
                "role": "svc" if task and task != "FFU tasks of the node's services" else "",
                **({"res": res} if res or kind.startswith("runner_on_") else {}),
            },
        }
        for kind, host, task, uuid, res in rows
    ]


def progress_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple]) -> list[str]:
    def fake_run(**kwargs):
        for event in recorded(rows):
            kwargs["event_handler"](event)
        (tmp_path / "logs" / "ansible" / kwargs["ident"]).mkdir(parents=True)
        return type("Runner", (), {"status": "successful"})()

    monkeypatch.setattr("ansible_runner.run", fake_run)
    lines: list[str] = []
    ansible.run_playbook(tmp_path, "ffu.yml", {}, lines.append, label="2024.2 step")
    return lines


def test_during_step_2_only_the_tasks_that_ran_are_shown(tmp_path, monkeypatch):
    lines = progress_lines(tmp_path, monkeypatch, STEP_2)
    assert lines == ["2024.2 step: FFU tasks of the node's services", "2024.2 step: Step 2, stop the service"]
    assert not any("Step 9" in line or "Step 6" in line for line in lines), lines


def test_an_included_step_shows_the_include_and_what_it_ran(tmp_path, monkeypatch):
    lines = progress_lines(tmp_path, monkeypatch, STEP_6)
    assert lines == [
        "2024.2 step: FFU tasks of the node's services",
        "2024.2 step: Step 6, install",
        "2024.2 step: Run the script",
    ]


def test_a_task_skipped_on_one_host_and_run_on_another_is_shown_once(tmp_path, monkeypatch):
    rows = [
        ("playbook_on_task_start", None, "Step 4, dump the databases", "0031", {}),
        ("runner_on_start", "node-a", "Step 4, dump the databases", "0031", {}),
        ("runner_on_start", "node-b", "Step 4, dump the databases", "0031", {}),
        ("runner_on_skipped", "node-a", "Step 4, dump the databases", "0031", {}),
        ("runner_on_ok", "node-b", "Step 4, dump the databases", "0031", {"changed": True}),
        ("playbook_on_task_start", None, "Step 5, nothing here", "0032", {}),
        ("runner_on_start", "node-b", "Step 5, nothing here", "0032", {}),
        ("runner_item_on_skipped", "node-b", "Step 5, nothing here", "0032", {}),
        ("runner_on_skipped", "node-b", "Step 5, nothing here", "0032", {}),
    ]
    assert progress_lines(tmp_path, monkeypatch, rows) == ["2024.2 step: Step 4, dump the databases"]


def test_a_failing_task_is_shown_before_the_failure(tmp_path, monkeypatch):
    rows = [
        ("playbook_on_task_start", None, "Step 8, db_sync", "0033", {}),
        ("runner_on_start", "node-a", "Step 8, db_sync", "0033", {}),
        ("runner_on_failed", "node-a", "Step 8, db_sync", "0033", {"rc": 1, "stdout": "boom"}),
    ]
    with pytest.raises(ansible.PlaybookFailed):
        progress_lines(tmp_path, monkeypatch, rows)
