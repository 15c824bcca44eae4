"""The default job end to end (tox -e e2e): ``ffulab job run`` on the sandbox virthost, as CI runs it,
then its artifacts checked the way CI and a person use them. Needs root; about an hour under TCG."""

from __future__ import annotations

import json

import pytest

from ffulab.config.resolve import DEFAULT_JOB, resolve
from ffulab.job.check import check_artifacts

pytestmark = pytest.mark.e2e


def test_the_default_job_passes(job):
    assert job.returncode == 0, f"ffulab job run exited {job.returncode}; see {job.artifacts / 'report.html'}"


def test_its_artifacts_parse_and_its_report_renders_without_console_errors(job):
    artifacts = job.artifacts
    screenshot = artifacts / "report.png"
    assert check_artifacts(artifacts, screenshot) == []
    print(f"report screenshot: {screenshot}")


def test_its_summary_tells_the_upgrade_its_timings_and_downtime(job):
    artifacts = job.artifacts
    summary = json.loads((artifacts / "summary.json").read_text())
    config = resolve(job=DEFAULT_JOB).config
    chain = config.release.ffu_chain
    assert summary["result"] == "pass", summary["reasons"]
    assert summary["versions"]["before"] == dict(config.series[chain[0]].services)
    assert summary["versions"]["after"] == dict(config.series[chain[-1]].services)
    assert all(phase["status"] == "done" and phase["seconds"] is not None for phase in summary["phases"])
    assert all(step["status"] in ("done", "nothing to do") for step in summary["ffu_steps"])
    assert summary["downtime"]["samples"] > 0
    assert summary["counts"]["tests"]["final.tempest"]["passed"] > 0
    assert summary["regressions"] == []
    assert {path.name for path in (artifacts / "logs").iterdir()} >= {"undercloud", "overcloud-controller-0"}
