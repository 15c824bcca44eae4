"""ffulab job run: the whole pipeline on a fresh lab, artifacts always, the lab destroyed unless kept."""

from __future__ import annotations

import argparse
import json
import types

import pytest
from phase_fakes import fake_phases

from ffulab.commands import destroy as destroy_command
from ffulab.commands.job import register
from ffulab.errors import ConfigError, FfulabError, UsageError
from ffulab.job import artifacts as job_artifacts
from ffulab.job import run as job_run
from ffulab.job.run import JobRun, run_job
from ffulab.phases import PHASE_NAMES
from ffulab.phases import report as report_phase
from ffulab.state import State

NO_SNAPSHOTS = ["settings.snapshots.auto=false"]


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """Fake phases (``lab.behaviour[name]`` replaces one), the real report phase, a fake destroy."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ran: list[str] = []
    destroyed: list[str] = []
    behaviour = {}

    def phase(name):
        def run(ctx):
            ran.append(name)
            behaviour.get(name, lambda c: None)(ctx)

        return types.SimpleNamespace(run=run)

    runs = {name: phase(name).run for name in PHASE_NAMES}
    runs["report"] = lambda ctx: (ran.append("report"), report_phase.run(ctx))
    fake_phases(monkeypatch, runs)

    def fake_destroy(workspace, progress):
        destroyed.append(str(workspace))
        (workspace / "state.json").unlink()
        return ["domain x"]

    monkeypatch.setattr(destroy_command, "destroy", fake_destroy)
    return types.SimpleNamespace(ran=ran, destroyed=destroyed, behaviour=behaviour, ws=tmp_path / "ws")


def _raises(exc: BaseException):
    def run(ctx):
        raise exc

    return run


def _run(lab, **kwargs) -> int:
    return run_job(JobRun(job="ffu-keystone-only", workspace=lab.ws, extra_vars=NO_SNAPSHOTS, **kwargs))


def _summary(lab) -> dict:
    return json.loads((lab.ws / "artifacts" / "summary.json").read_text())


def test_a_passing_job_runs_every_phase_writes_artifacts_and_destroys_the_lab(lab):
    assert _run(lab) == 0
    assert lab.ran == list(PHASE_NAMES)
    assert _summary(lab)["result"] == "pass"
    assert {"junit.xml", "report.html", "summary.json", "logs"} <= {
        p.name for p in (lab.ws / "artifacts").iterdir()
    }
    assert lab.destroyed == [str(lab.ws)]


def test_a_failing_phase_fails_the_job_with_artifacts_and_no_lab_left(lab):
    lab.behaviour["bmc"] = _raises(FfulabError("no IPMI answer"))
    assert _run(lab) == 1
    assert "undercloud" not in lab.ran and "report" not in lab.ran
    summary = _summary(lab)
    assert summary["result"] == "fail" and "no IPMI answer" in summary["error"]
    assert summary["reasons"] == ["phase bmc failed"]
    assert lab.destroyed == [str(lab.ws)]


def test_keep_on_failure_keeps_a_failed_lab_but_not_a_passing_one(lab):
    assert _run(lab, keep_on_failure=True) == 0
    assert lab.destroyed == [str(lab.ws)]
    lab.destroyed.clear()
    lab.behaviour["ffu"] = _raises(FfulabError("step 8 failed"))
    assert _run(lab, keep_on_failure=True) == 1
    assert lab.destroyed == []
    assert State.exists(lab.ws)


def test_keep_keeps_a_passing_lab(lab):
    assert _run(lab, keep=True) == 0
    assert lab.destroyed == [] and State.exists(lab.ws)


def test_a_regression_found_by_the_report_fails_the_job_with_the_artifacts_written_once(lab, monkeypatch):
    writes = []
    real = job_artifacts.write_artifacts

    def counting(*args, **kwargs):
        writes.append(1)
        summary = real(*args, **kwargs)
        return {
            **summary,
            "result": "fail",
            "reasons": ["1 test(s) passed at the baseline and not after the FFU"],
        }

    monkeypatch.setattr(report_phase, "write_artifacts", counting)
    monkeypatch.setattr(job_run, "write_artifacts", counting)
    assert _run(lab) == 1
    assert len(writes) == 1
    assert lab.destroyed == [str(lab.ws)]


def test_a_lab_that_cannot_be_destroyed_fails_the_job(lab, monkeypatch):
    def broken(workspace, progress):
        raise FfulabError("libvirt is gone")

    monkeypatch.setattr(destroy_command, "destroy", broken)
    assert _run(lab) == 1


def test_a_workspace_holding_a_lab_is_refused_before_anything_runs(lab):
    State.open(lab.ws, "keystone-only")
    with pytest.raises(UsageError, match="already holds a lab") as raised:
        _run(lab)
    assert raised.value.exit_code == 2
    assert lab.ran == [] and lab.destroyed == []


def test_an_unknown_job_is_bad_input(lab):
    with pytest.raises(ConfigError, match="no job config named 'ffu-nope'") as raised:
        run_job(JobRun(job="ffu-nope", workspace=lab.ws))
    assert raised.value.exit_code == 2
    assert not lab.ws.exists()


def test_ctrl_c_still_writes_artifacts_and_destroys_then_says_so(lab, capsys):
    lab.behaviour["overcloud"] = _raises(KeyboardInterrupt())
    assert _run(lab) == 130
    assert _summary(lab)["error"] == "interrupted"
    assert lab.destroyed == [str(lab.ws)]
    said = capsys.readouterr().err
    assert "interrupted: the lab is destroyed" in said and "rerun" not in said, "no lab is left to continue"


def test_the_command_line_puts_artifacts_where_asked(lab, tmp_path):
    parser = argparse.ArgumentParser(prog="ffulab")
    register(parser.add_subparsers(dest="command", required=True))
    argv = ["job", "run", "ffu-keystone-only", "-w", str(lab.ws), "--artifacts", str(tmp_path / "out")]
    args = parser.parse_args([*argv, "-e", NO_SNAPSHOTS[0], "--keep"])
    assert args.func(args) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["result"] == "pass"
    assert lab.destroyed == []


@pytest.fixture
def kept(lab, monkeypatch):
    """--reuse with the deployed snapshot faked: the overcloud phase records it, revert and power off
    are recorded."""
    from ffulab.snapshot import lab as snapshot_lab

    events: list[str] = []

    def deployed(ctx):
        ctx.state.data.snapshots.append({"name": "overcloud-deployed", "status": "complete"})
        ctx.state.save()

    lab.behaviour["overcloud"] = deployed
    monkeypatch.setattr(snapshot_lab, "power_off", lambda state, progress: events.append("power off") or [])

    def revert(state, name, progress):
        events.append(f"revert {name}")
        return types.SimpleNamespace(seconds={"usable": 4.0})

    monkeypatch.setattr("ffulab.snapshot.revert", revert)
    lab.events = events
    return lab


def test_reuse_keeps_the_deployed_lab_and_the_next_run_starts_from_it(kept):
    assert _run(kept, reuse=True) == 0
    assert kept.events == ["power off"] and kept.destroyed == []
    key = State.load(kept.ws).data.reuse["key"]
    kept.ran.clear()
    assert _run(kept, reuse=True) == 0
    assert kept.events == ["power off", "revert overcloud-deployed", "power off"]
    assert kept.ran == ["config", "virthost", *PHASE_NAMES[PHASE_NAMES.index("resources") :]]
    assert State.load(kept.ws).data.reuse["key"] == key


def test_a_kept_lab_made_from_another_config_is_destroyed_and_the_job_starts_fresh(kept):
    assert _run(kept, reuse=True) == 0
    kept.ran.clear()
    assert run_job(JobRun(job="ffu-keystone-only", workspace=kept.ws, reuse=True,
                          extra_vars=[*NO_SNAPSHOTS, "settings.timezone=Europe/Paris"])) == 0  # fmt: skip
    assert kept.destroyed == [str(kept.ws)] and kept.ran == list(PHASE_NAMES)
