"""The ansible-runner wrapper: step timings from role scripts, failure messages, no secret on argv."""

from __future__ import annotations

import os
from pathlib import Path

from ffulab.deploy.ansible import PlaybookFailed, PlaybookResult, _failure_message, _write_vars, script_steps


def test_script_steps_are_read_from_a_scripts_output_even_with_a_tty():
    out = "ffulab-changed: /etc/x\r\nffulab-step: keystone-manage db_sync 28.140\r\n"
    out += "noise\nffulab-step: token 3\n"
    assert script_steps(out) == [("keystone-manage db_sync", 28.14), ("token", 3.0)]
    assert script_steps("") == []


def test_a_failed_script_shows_its_exit_status_and_last_lines():
    data = {
        "res": {"rc": 2, "stdout": "\n".join(f"line {i}" for i in range(20)), "stderr": "boom", "msg": ""}
    }
    message = _failure_message(data)
    assert message.startswith("exit 2: ") and "line 19" in message and "boom" in message
    assert "line 5" not in message


def test_a_script_that_did_not_finish_says_so():
    message = _failure_message(
        {"res": {"rc": 0, "stdout": "ffulab-changed: /etc/x", "failed_when_result": True}}
    )
    assert message.startswith("exit 0 but the script did not finish")


def test_no_log_output_stays_hidden():
    assert "hidden" in _failure_message({"res": {"_ansible_no_log": True, "msg": "password=x"}})


def test_a_failed_playbook_names_task_host_and_log(tmp_path: Path):
    result = PlaybookResult("overcloud.yml", "failed", 1.0, tmp_path / "stdout")
    result.failures.append({"host": "overcloud-controller-0", "task": "Keystone", "msg": "exit 1: no token"})
    text = str(PlaybookFailed(result))
    assert "task 'Keystone' failed on overcloud-controller-0: exit 1: no token" in text
    assert str(tmp_path / "stdout") in text


def test_a_playbook_that_failed_before_any_task_shows_ansibles_own_error(tmp_path: Path):
    (tmp_path / "stdout").write_text("ERROR! the role 'nope' was not found\n")
    text = str(PlaybookFailed(PlaybookResult("x.yml", "failed", 0.1, tmp_path / "stdout")))
    assert "ansible-playbook failed: ERROR! the role 'nope' was not found" in text


def test_variables_go_to_a_private_file_not_to_the_command_line(tmp_path: Path):
    path = _write_vars(tmp_path / "vars", "run-1", {"keystone_admin_password": "s3cret"})
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert "s3cret" in path.read_text()


def test_a_failed_no_log_task_shows_ansibles_error_line_not_its_result(tmp_path: Path):
    log = tmp_path / "stdout"
    log.write_text(
        "TASK [Render]\n[ERROR]: Task failed: The lookup plugin 'file' failed: ffulab-lib.sh not found\n"
    )
    result = PlaybookResult("overcloud.yml", "failed", 1.0, log)
    result.failures.append(
        {"host": "h", "task": "Render", "msg": _failure_message({"res": {"_ansible_no_log": True}})}
    )
    text = str(PlaybookFailed(result))
    assert "hidden because of no_log" in text and "Ansible said: Task failed: The lookup plugin" in text
