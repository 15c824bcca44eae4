"""``ffulab plan``: the whole plan, text and JSON, creating nothing."""

from __future__ import annotations

import json

from ffulab.cli import main
from ffulab.phases import PHASE_NAMES


def test_plan_json_lists_phases_releases_steps_and_final_deploy(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["plan", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [phase["name"] for phase in plan["phases"]] == list(PHASE_NAMES)
    ffu = plan["ffu"]
    assert ffu["chain"] == ["2024.1", "2024.2", "2025.1", "2025.2"]
    assert [release["release"] for release in ffu["releases"]] == ["2024.2", "2025.1"]
    for release in ffu["releases"]:
        assert [step["step"] for step in release["steps"]] == list(range(1, 10))
        db_sync = next(step for step in release["steps"] if step["step"] == 8)
        assert any("db_sync" in run["does"] and run["service"] == "keystone" for run in db_sync["runs"])
    assert ffu["final"]["release"] == "2025.2"
    assert any(run["service"] == "keystone" and "28." in run["does"] for run in ffu["final"]["runs"])
    assert list(tmp_path.iterdir()) == [], "plan must create nothing"


def test_bootstrap_steps_run_on_one_node_per_role(capsys):
    assert main(["plan", "--json", "-N", "3ctlr"]) == 0
    release = json.loads(capsys.readouterr().out)["ffu"]["releases"][0]
    stop = next(step for step in release["steps"] if step["step"] == 2)
    sync = next(step for step in release["steps"] if step["step"] == 8)
    assert stop["runs"][0]["nodes"] == [f"overcloud-controller-{i}" for i in range(3)]
    assert sync["runs"][0]["nodes"] == ["overcloud-controller-0"]


def test_plan_text_shows_config_and_every_step(capsys):
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "jobs/ffu-keystone-only.yml" in out
    assert "ffu → 2024.2" in out and "ffu → 2025.1" in out
    assert "final deploy at 2025.2" in out
    assert "8 database sync" in out
