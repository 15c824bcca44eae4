"""No secret escapes: masked by value at the logger, in every artifact, and off the check commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from job_fakes import SECRET, fake_state, fake_workspace

from ffulab.job.artifacts import write_artifacts
from ffulab.logs import start_log
from ffulab.secrets import KEY_FILE, lab_secret, mask_dict_password, secret_values
from ffulab.state import LabState, State

KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDf0000000000000000000000000000000000000000000000000000000
-----END OPENSSH PRIVATE KEY-----
"""


def test_the_logger_masks_every_secret_by_value_whatever_its_name(tmp_path: Path):
    State.open(tmp_path, "lab")
    log_path = start_log(tmp_path, "test")
    brand_new = lab_secret(tmp_path, "a_secret_nobody_named_yet")  # made after the log started
    (tmp_path / KEY_FILE).write_text(KEY)
    logger = logging.getLogger("ffulab.test")
    logger.info("connecting with %s", brand_new)
    logger.info("settings %(db_password)s", {"db_password": "hunter2-not-generated"})
    logger.info("key line %s", KEY.splitlines()[1])
    text = log_path.read_text()
    assert brand_new not in text and "hunter2-not-generated" not in text and KEY.splitlines()[1] not in text
    assert text.count("********") == 3
    logging.getLogger().handlers[-1].close()


def test_every_artifact_file_is_redacted_not_only_the_logs(tmp_path: Path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    state = fake_state(workspace)
    fake_workspace(workspace, state)
    junit = Path(state["validate"]["final"]["services"]["junit"])
    junit.write_text(
        junit.read_text().replace("boom", f"MYSQL_PWD={SECRET} mariadb ...") + f"<!-- {SECRET} -->"
    )
    artifacts = tmp_path / "artifacts"
    write_artifacts(workspace, State(workspace, LabState.model_validate(state)), artifacts)
    leaks = [p for p in artifacts.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaks, f"secrets in {leaks}"
    assert any("********" in p.read_text(errors="replace") for p in artifacts.rglob("*.xml"))


def test_secret_values_hold_the_private_key_lines_longest_first(tmp_path: Path):
    (tmp_path / "secrets.json").write_text(json.dumps({"a": "short1234", "b": "short1234-and-longer"}))
    (tmp_path / KEY_FILE).write_text(KEY)
    values = secret_values(tmp_path)
    assert values.index("short1234-and-longer") < values.index("short1234")
    assert KEY.splitlines()[2] in values and not any("PRIVATE" in value for value in values)


def test_dict_passwords_are_masked_by_key_as_virtualbmc_does():
    masked = mask_dict_password({"password": "x", "nested": {"db_password": "y"}, "user": "admin"})
    assert masked == {"password": "********", "nested": {"db_password": "********"}, "user": "admin"}
