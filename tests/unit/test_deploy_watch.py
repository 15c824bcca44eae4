"""A task that runs long is shown again with where it runs and what its role scripts did since.

Under TCG a compute lab's controller deploys five services side by side in one Ansible task for most of an
hour; Ansible says nothing until the task ends. The role scripts' steps reach a file per part on the node
(ffulab-lib.sh, parts.sh.j2) that the watch reads.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from test_deploy_roles import render

from ffulab.deploy import watch
from ffulab.deploy.watch import TaskWatch, shown

ROLES = Path(__file__).resolve().parents[2] / "roles"


def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the watch said nothing"
        time.sleep(0.02)


def test_a_long_task_is_shown_with_its_hosts_and_their_new_steps_once(tmp_path):
    lines: list[str] = []
    node_files = {"node-a": ["keystone ffulab-step: unpack 120.512"], "node-b": []}
    asked: list[tuple[str, int]] = []

    def read(_workspace: Path, host: str, seconds: int) -> list[str]:
        asked.append((host, seconds))
        return list(node_files[host])

    with TaskWatch(tmp_path, "deploy", lines.append, every=0.1, read=read) as task_watch:
        task_watch.started("node-a", "The step's parts side by side, keystone, glance")
        task_watch.started("node-b", "The step's parts side by side, keystone, glance")
        wait_until(lambda: len(lines) >= 2)
        node_files["node-a"].append("glance ffulab-start: db_sync")
        wait_until(lambda: any("node-a: glance" in line for line in lines))
        task_watch.ended("node-a")
        task_watch.ended("node-b")
        time.sleep(0.3)  # a look begun before the ends may still print
        count = len(lines)
        time.sleep(0.5)
    assert lines[0].startswith(
        "deploy: The step's parts side by side, keystone, glance: still running on node-a, node-b (0m0"
    )
    assert lines.count("deploy: node-a: keystone: unpack 120.5 s") == 1, lines
    assert "deploy: node-a: glance: db_sync …" in lines
    assert len(lines) == count, "the watch spoke with nothing running"
    assert {host for host, _seconds in asked} == {"node-a", "node-b"}


def test_the_watch_stays_quiet_while_tasks_are_shown():
    lines: list[str] = []
    with TaskWatch(Path("."), "deploy", lines.append, every=1.0, read=lambda *_: []) as task_watch:
        task_watch.started("node-a", "Step 6, install")
        for _ in range(30):
            task_watch.spoke()
            time.sleep(0.1)
    assert lines == []


def test_progress_lines_read_as_steps():
    assert shown("nova ffulab-step: db sync 64.2") == "nova: db sync 64.2 s"
    assert shown("nova ffulab-start: db sync") == "nova: db sync …"
    assert shown("nova ffulab-step: deploy (exit 0) 1534.500") == "nova: deploy (exit 0) 1534.5 s"
    assert shown("nova something else") is None


def test_role_scripts_and_parts_leave_steps_the_watch_reads(tmp_path):
    """The real ffulab-lib.sh in a part run by the real parts runner, read back by the watch's script."""
    progress = tmp_path / "progress"
    lib = (ROLES / "common" / "files" / "ffulab-lib.sh").read_text()
    part = tmp_path / "keystone.sh"
    part.write_text(f"{lib}\nffulab_time 'db sync' true\nffulab_done\n")
    keystone = {"service": "keystone", "action": "deploy", "path": str(part)}
    parts = render("common", "parts.sh.j2", {"common_parts": [keystone]})
    parts = parts.replace("/run/ffulab-parts.", f"{tmp_path}/parts.")
    env = {"PATH": "/usr/bin:/bin", "FFULAB_PROGRESS_DIR": str(progress)}
    subprocess.run(["bash", "-c", parts], env=env, check=True, capture_output=True, timeout=60)
    script = watch.READ_SCRIPT.replace(watch.PROGRESS_DIR, str(progress))
    read = subprocess.run(
        ["sh", "-s", "--", "60"], input=script, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert [shown(line).rsplit(" ", 2)[0] if "ffulab-step" in line else shown(line) for line in read] == [
        "keystone: db sync …",
        "keystone: db sync",
        "keystone: deploy (exit 0)",
    ], read


def test_steps_read_after_the_task_ended_are_left_to_its_result(tmp_path):
    """The SSH read takes seconds under TCG: a task that ended meanwhile is shown by its result, in order."""
    lines: list[str] = []
    holder: list[TaskWatch] = []

    def read(_workspace: Path, host: str, _seconds: int) -> list[str]:
        holder[0].ended(host)
        return ["keystone ffulab-step: deploy (exit 0) 45.4"]

    with TaskWatch(tmp_path, "deploy", lines.append, every=0.1, read=read) as task_watch:
        holder.append(task_watch)
        task_watch.started("node-a", "The step's parts side by side, keystone")
        wait_until(lambda: len(lines) >= 1)
        time.sleep(0.3)
    assert len(lines) == 1 and "still running on node-a" in lines[0], lines


def test_a_step_that_started_and_ended_between_two_looks_is_shown_once(tmp_path):
    lines: list[str] = []
    node = [
        "keystone ffulab-start: db_sync",
        "keystone ffulab-step: db_sync 91.7",
        "keystone ffulab-start: bootstrap",
    ]
    with TaskWatch(tmp_path, "deploy", lines.append, every=0.1, read=lambda *_: node) as task_watch:
        task_watch.started("node-a", "The step's parts side by side, keystone")
        wait_until(lambda: len(lines) >= 3)
        time.sleep(0.3)
    assert [line for line in lines if "node-a: keystone" in line] == [
        "deploy: node-a: keystone: db_sync 91.7 s",
        "deploy: node-a: keystone: bootstrap …",
    ]
