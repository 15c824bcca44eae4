"""junit.xml: ffulab's phases and FFU steps as test cases, merged with the validations' JUnit files."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from job_fakes import fake_state, summary_of

from ffulab.job.artifacts import gather_junit
from ffulab.job.junit import write_junit


def _merged(tmp_path, **kwargs) -> ET.Element:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(exist_ok=True)
    summary = summary_of(fake_state(tmp_path, **kwargs), kwargs.get("fail_at") and "it broke")
    gather_junit(summary, tmp_path, artifacts)
    return ET.parse(write_junit(summary, artifacts)).getroot()


def test_phases_steps_resources_and_every_validation_file_are_one_document(tmp_path):
    root = _merged(tmp_path)
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert set(suites) == {
        "ffulab.phases", "ffulab.ffu", "ffulab.resources", "tempest.baseline.tempest",
        "services.baseline.services", "tempest.final.tempest", "services.final.services",
    }  # fmt: skip
    assert len(suites["ffulab.ffu"].findall("testcase")) == 19
    assert suites["ffulab.ffu"].find("testcase").get("classname") == "ffulab.ffu.2024.2"
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases)
    assert int(root.get("skipped")) == 2, "one skipped Tempest test at the baseline and one after"
    assert root.get("failures") == "0"


def test_a_failed_phase_is_a_failure_and_the_phases_after_it_are_skipped(tmp_path):
    root = _merged(tmp_path, fail_at="undercloud")
    phases = {case.get("name"): case for case in root.findall("testsuite[@name='ffulab.phases']/testcase")}
    assert "it broke" in phases["undercloud"].find("failure").get("message")
    assert phases["ffu"].find("skipped").get("message") == "not run"
    assert phases["bmc"].find("failure") is None and phases["bmc"].find("skipped") is None
    assert root.get("failures") == "1"


def test_an_unreadable_validation_file_is_an_error_not_a_crash(tmp_path):
    state = fake_state(tmp_path)
    state["validate"]["final"]["tempest"]["junit"] = str(tmp_path / "gone.xml")
    artifacts = tmp_path / "artifacts"
    summary = summary_of(state)
    gather_junit(summary, tmp_path, artifacts)
    root = ET.parse(write_junit(summary, artifacts)).getroot()
    assert root.find("testsuite[@name='tempest.final']/testcase/error") is not None
    assert root.get("errors") == "1"


def test_validation_files_outside_the_artifacts_are_copied_in(tmp_path):
    state = fake_state(tmp_path)
    elsewhere = tmp_path / "elsewhere.xml"
    elsewhere.write_text('<testsuite name="t"><testcase classname="a" name="b"/></testsuite>')
    state["validate"]["final"]["services"]["junit"] = str(elsewhere)
    summary = summary_of(state)
    gather_junit(summary, tmp_path, tmp_path / "artifacts")
    assert summary["validation"]["final"]["checks"]["services"]["junit"] == "validate/final/elsewhere.xml"
    assert summary["validation"]["final"]["checks"]["tempest"]["junit"] == "validate/final/tempest.xml"
    assert (tmp_path / "artifacts" / "validate" / "final" / "elsewhere.xml").is_file()
