"""The artifact checks the e2e test applies to a real run: each catches what it is there for."""

from __future__ import annotations

import json

import pytest
from job_fakes import fake_state, fake_workspace

from ffulab.job.artifacts import write_artifacts
from ffulab.job.check import check_junit, check_report_offline, check_summary
from ffulab.state import State


@pytest.fixture
def artifacts(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    fake_workspace(workspace, fake_state(workspace))
    write_artifacts(workspace, State.load(workspace), workspace / "artifacts")
    return workspace / "artifacts"


def test_fake_artifacts_pass_every_static_check(artifacts):
    assert check_junit(artifacts) + check_summary(artifacts) + check_report_offline(artifacts) == []


def test_a_junit_file_that_does_not_parse_is_reported(artifacts):
    (artifacts / "junit.xml").write_text("<testsuites><testsuite>")
    assert check_junit(artifacts)[0].startswith("junit.xml: does not parse")


def test_a_summary_without_a_field_is_reported(artifacts):
    summary = json.loads((artifacts / "summary.json").read_text())
    del summary["downtime"]
    (artifacts / "summary.json").write_text(json.dumps(summary))
    assert check_summary(artifacts) == ["summary.json: no 'downtime'"]


def test_a_report_loading_anything_or_linking_nowhere_is_reported(artifacts):
    report = artifacts / "report.html"
    html = report.read_text().replace(
        "</body>", '<img src="https://example.org/x.png"><a href="logs/gone">x</a></body>'
    )
    report.write_text(html)
    assert check_report_offline(artifacts) == [
        "report.html: loads <img> https://example.org/x.png",
        "report.html: link to logs/gone goes nowhere",
    ]
