"""The step-4 database dumps stay in the workspace (0700); the artifacts get none unless a job asks.

The dumps hold every service database, credentials and password hashes included, and the artifacts
directory is what CI publishes (the exported Zuul post-run copies it whole and makes it world-readable).
"""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from deploy_fakes import fake_index, lab
from job_fakes import fake_state, fake_workspace

from ffulab.context import ARTIFACTS_DIR, BACKUPS_DIR, Context
from ffulab.job.artifacts import write_artifacts
from ffulab.phases import ffu as phase
from ffulab.state import State

REPO = Path(__file__).resolve().parents[2]
NODE = "overcloud-controller-0"


def step_4_tasks() -> list[dict]:
    tasks = yaml.safe_load((REPO / "roles" / "mariadb" / "tasks" / "ffu.yml").read_text())
    return [task for task in tasks if "step | int == 4" in str(task.get("when"))]


def render(text: str, variables: dict) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["quote"] = lambda value: shlex.quote(str(value))
    return env.from_string(text).render(**variables)


@pytest.fixture
def plan_variables(tmp_path: Path) -> dict:
    """What the FFU gives playbooks/ffu.yml at 2024.2, for the first controller, with the role's defaults."""
    resolved, layout = lab(tmp_path)
    state = State.open(tmp_path / "ws", resolved.config.lab.name)
    state.update(layout=layout.to_dict(), undercloud={"mirror": {"index": fake_index(resolved)}})
    ctx = Context(resolved=resolved, state=state, workspace=tmp_path / "ws")
    defaults = yaml.safe_load((REPO / "roles" / "mariadb" / "defaults" / "main.yml").read_text())
    return {**defaults, **phase.build_plan(ctx).extravars("2024.2"), "inventory_hostname": NODE}


def test_step_4_copies_the_dumps_into_the_workspace_and_nothing_into_the_artifacts(plan_variables, tmp_path):
    """The copy task of step 4, rendered with the FFU's own variables and run with ssh faked."""
    (copy,) = [task for task in step_4_tasks() if task.get("delegate_to") == "localhost"]
    script = render(copy["ansible.builtin.shell"], plan_variables)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "ssh").write_text("#!/bin/sh\necho 'CREATE USER keystone IDENTIFIED BY PASSWORD x' | gzip\n")
    (fake_bin / "ssh").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin"}
    subprocess.run(["bash", "-c", script], env=env, check=True, capture_output=True)
    workspace = tmp_path / "ws"
    dumps = workspace / BACKUPS_DIR / "2024.2" / NODE
    assert (dumps / "keystone.sql.gz").is_file()
    for directory in (workspace / BACKUPS_DIR, dumps.parent, dumps):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((dumps / "keystone.sql.gz").stat().st_mode) == 0o600
    artifacts = workspace / ARTIFACTS_DIR
    assert not artifacts.exists() or not list(artifacts.rglob("*.sql.gz")), "no dump in the artifacts"


def test_no_role_writes_into_the_published_artifacts():
    roles = "".join(path.read_text() for path in (REPO / "roles").rglob("*.yml"))
    assert "ffulab_artifacts_dir" not in roles


def _run_with_backups(tmp_path: Path, publish: bool | None) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    state = fake_state(workspace)
    if publish is not None:
        state["config"]["config"]["settings"]["artifacts"] = {"publish_backups": publish}
    fake_workspace(workspace, state)
    dumps = workspace / BACKUPS_DIR / "2024.2" / NODE
    dumps.mkdir(parents=True)
    (dumps / "keystone.sql.gz").write_bytes(b"\x1f\x8b password hashes")
    artifacts = workspace / "artifacts"
    write_artifacts(workspace, State.load(workspace), artifacts)
    return artifacts


@pytest.mark.parametrize("publish", [None, False], ids=["default", "publish_backups false"])
def test_the_artifacts_get_no_backups_by_default(tmp_path, publish):
    artifacts = _run_with_backups(tmp_path, publish)
    assert not (artifacts / "backups").exists()
    assert not list(artifacts.rglob("*.sql.gz")), "no dump anywhere in what CI publishes"
    assert (tmp_path / "ws" / BACKUPS_DIR / "2024.2" / NODE / "keystone.sql.gz").is_file(), "kept in the lab"


def test_a_job_that_asks_publishes_the_backups(tmp_path):
    artifacts = _run_with_backups(tmp_path, True)
    assert (artifacts / "backups" / "2024.2" / NODE / "keystone.sql.gz").read_bytes().endswith(b"hashes")


def test_the_setting_is_part_of_the_config_schema_and_off():
    from ffulab.config.resolve import resolve

    settings = resolve().config.settings
    assert settings.artifacts.publish_backups is False
    assert json.dumps(settings.model_dump())  # serialisable into state.json
