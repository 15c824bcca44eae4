"""CI's job end to end (tox -e e2e): ``ffulab job run`` on the sandbox virthost, as CI runs it, then its
artifacts checked the way CI and a person use them. Needs root; tens of minutes under TCG."""

from __future__ import annotations

import json

import pytest
from conftest import CI_JOB

from ffulab.config.resolve import resolve
from ffulab.job.check import check_artifacts

pytestmark = pytest.mark.e2e


def test_the_job_passes(job):
    assert job.returncode == 0, f"ffulab job run exited {job.returncode}; see {job.artifacts / 'report.html'}"


def test_its_artifacts_parse_and_its_report_renders_without_console_errors(job):
    artifacts = job.artifacts
    screenshot = artifacts / "report.png"
    assert check_artifacts(artifacts, screenshot) == []
    print(f"report screenshot: {screenshot}")


def test_its_summary_tells_the_upgrade_its_timings_and_downtime(job):
    artifacts = job.artifacts
    summary = json.loads((artifacts / "summary.json").read_text())
    resolved = resolve(job=CI_JOB)
    config, catalog = resolved.config, resolved.catalog
    chain = config.release.ffu_chain
    openstack = [service.name for service in catalog.openstack(config)]
    assert summary["result"] == "pass", summary["reasons"]
    # read from the nodes' venvs: each must be the release config's pin of its series
    assert summary["versions"]["before"] == {s: config.series[chain[0]].services[s] for s in openstack}
    assert summary["versions"]["after"] == {s: config.series[chain[-1]].services[s] for s in openstack}
    assert all(phase["status"] == "done" and phase["seconds"] is not None for phase in summary["phases"])
    assert all(step["status"] in ("done", "nothing to do") for step in summary["ffu_steps"])
    apis = {service.name for service in catalog.apis(config)}
    assert set(summary["downtime"]) == apis and all(d["samples"] > 0 for d in summary["downtime"].values())
    checks = summary["checks"][chain[-1]]
    assert set(checks) >= set(openstack) and all(
        check["status"] != "failed" for service in checks.values() for check in service.values()
    )
    created = {row["service"] for row in summary["resources"]["created"]}
    assert created == {service.name for service in catalog.of_lab(config) if service.resources}
    assert summary["counts"]["tests"]["final.tempest"]["passed"] > 0
    assert summary["regressions"] == []
    assert {path.name for path in (artifacts / "logs").iterdir()} >= {"undercloud", "overcloud-controller-0"}
