"""summary.json: versions, timings, downtime, counts and the result, from a run's state alone."""

from __future__ import annotations

from job_fakes import TEMPEST, fake_state, summary_of

from ffulab.job.summary import NOT_RUN, outcome


def test_a_passing_run_has_versions_timings_downtime_and_counts(tmp_path):
    summary = summary_of(fake_state(tmp_path))
    assert summary["result"] == "pass" and summary["reasons"] == []
    assert summary["job"]["name"] == "ffu-keystone-only"
    assert summary["versions"]["release_before"] == "2024.1"
    assert summary["versions"]["release_after"] == "2025.2"
    assert summary["versions"]["before"]["keystone"] != summary["versions"]["after"]["keystone"]
    phases = {row["name"]: row for row in summary["phases"]}
    assert "report" not in phases, "the report phase is still running while it writes the summary"
    assert phases["overcloud"]["seconds"] == 160.3 and phases["overcloud"]["status"] == "done"
    steps = summary["ffu_steps"]
    assert len(steps) == 2 * 9 + 1, "steps 1-9 of each intermediate release, then the final deploy"
    assert steps[-1]["final"] and steps[-1]["release"] == "2025.2"
    assert all(step["seconds"] is not None for step in steps)
    assert summary["checks"]["2025.2"]["keystone"]["upgrade-check"]["status"] == "ok"
    identity = summary["downtime"]["identity"]
    assert identity["seconds"] == 95.0 and len(identity["windows"]) == 2
    assert summary["counts"]["tests"]["final.tempest"] == {"passed": 5, "failed": 0, "skipped": 1}
    assert summary["counts"]["resources"] == {"created": 2, "verified": 2, "failed": 0}
    assert summary["started"] < summary["ended"]


def test_a_run_stopped_by_a_phase_fails_with_the_rest_not_run(tmp_path):
    summary = summary_of(fake_state(tmp_path, fail_at="overcloud"), error="phase 'overcloud' failed: x")
    assert summary["result"] == "fail"
    assert summary["reasons"] == ["phase overcloud failed"]
    phases = {row["name"]: row["status"] for row in summary["phases"]}
    assert phases["overcloud"] == "failed" and phases["ffu"] == NOT_RUN and phases["validate"] == NOT_RUN
    assert {step["status"] for step in summary["ffu_steps"]} == {NOT_RUN}
    assert summary["versions"]["after"] == {} and summary["versions"]["release_after"] is None
    assert summary["downtime"] == {} and summary["validation"] == {}


def test_a_test_passing_before_and_failing_after_the_ffu_is_a_regression(tmp_path):
    summary = summary_of(fake_state(tmp_path, regress=True))
    assert summary["result"] == "fail"
    assert summary["regressions"] == [TEMPEST[1]]
    assert any("passed at the baseline and not after the FFU" in reason for reason in summary["reasons"])


def test_an_error_outside_any_phase_still_fails_the_run(tmp_path):
    summary = summary_of(fake_state(tmp_path), error="phase 'baseline' is not implemented yet\nmore")
    assert summary["result"] == "fail"
    assert summary["reasons"] == ["stopped: phase 'baseline' is not implemented yet"]


def test_a_resource_lost_in_the_ffu_fails_the_run(tmp_path):
    state = fake_state(tmp_path)
    state["resources"]["verified"]["failed"] = ["keystone project ffulab-survivor"]
    summary = summary_of(state)
    assert summary["result"] == "fail"
    assert summary["reasons"] == ["1 resource(s) did not survive the FFU"]


def test_outcomes_of_any_runner_read_as_passed_failed_or_skipped():
    assert [outcome(s) for s in ("success", "ok", "FAIL", "error", "skip", None)] == [
        "passed", "passed", "failed", "failed", "skipped", "missing",
    ]  # fmt: skip


def test_a_run_that_skipped_phases_does_not_pass(tmp_path):
    state = fake_state(tmp_path)
    del state["phases"]["ffu"], state["phases"]["validate"]
    summary = summary_of(state)
    assert summary["result"] == "fail"
    assert summary["reasons"] == ["incomplete: ffu, validate not run"]


def test_a_baseline_test_the_final_run_did_not_select_is_not_run_not_a_regression(tmp_path):
    state = fake_state(tmp_path)
    final = state["validate"]["final"]["tempest"]
    final["results"] = {test: status for test, status in final["results"].items() if test != TEMPEST[1]}
    final["selected"] = list(final["results"])
    summary = summary_of(state)
    assert summary["regressions"] == [] and summary["result"] == "pass", summary["reasons"]
    assert summary["not_run"] == [TEMPEST[1]]
    assert summary["counts"]["not_run"] == 1
