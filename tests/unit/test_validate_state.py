"""validate(): JUnit files into the artifacts, counts and results into the state, exit 1 after both."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from ffulab.config.resolve import resolve
from ffulab.deploy.resources import Item
from ffulab.errors import FfulabError
from ffulab.state import OvercloudRecord, State
from ffulab.validate import ValidationFailed, validate
from ffulab.validate import validation as module
from ffulab.validate.tempest_venv import TempestVenv

URL = "http://192.0.2.10:5000/v3"
TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"
PASSING = {f"{TOKENS}.test_create_token": "passed", f"{TOKENS}.test_validate_token": "passed"}
SERVICES = {"tests.services.test_keystone.test_unit[overcloud-controller-0]": "passed"}


def junit(path: Path, results: dict[str, str]) -> None:
    body = {"failed": "<failure>f</failure>", "skipped": "<skipped/>", "passed": ""}
    cases = ""
    for test, status in results.items():
        classname, _, name = test.rpartition(".")
        cases += f'<testcase classname="{classname}" name="{name}">{body[status]}</testcase>'

    path.write_text(f"<testsuite>{cases}</testsuite>")


class Fakes:
    """Tempest and the service checks as recorded calls writing the JUnit they are told to."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.tempest = dict(PASSING)
        self.services = dict(SERVICES)
        self.resources = [Item("keystone", "project", "ffulab-project", "ok")]
        self.calls: list[dict] = []
        monkeypatch.setattr(module, "ensure_tempest", self.ensure)
        monkeypatch.setattr(module, "run_tempest", self.run_tempest)
        monkeypatch.setattr(module, "run_services", self.run_services)
        monkeypatch.setattr(module, "check_resources", self.check_resources)

    def check_resources(self, ctx, label):
        self.calls.append({"resources": label})
        failed = [item.describe() for item in self.resources if not item.ok]
        verified = {
            "release": ctx.state.data.overcloud.release,
            "items": len(self.resources),
            "failed": failed,
        }
        return {**verified, "seconds": 1.0}, self.resources, "log"

    def ensure(self, version, constraints, progress):
        self.calls.append({"ensure": version, "constraints": constraints.name})
        return TempestVenv(Path("/nonexistent"), version, "k" * 64, False, 0.0)

    def run_tempest(self, venv, conf_text, work, regex, path, *, netns, concurrency, progress):
        """Like stestr: the regex selects among every test the fake Tempest has."""
        self.calls.append({"conf": conf_text, "work": work, "regex": regex, "netns": netns})
        selected = {test: status for test, status in self.tempest.items() if re.search(regex, test)}
        junit(path, selected)
        return list(selected)

    def run_services(self, workspace, path, nodes, progress):
        self.calls.append({"services": workspace, "nodes": nodes})
        junit(path, self.services)


def make_lab(workspace: Path, release: str | None = None, **flags) -> State:
    resolved = resolve(**flags)
    config = resolved.config
    state = State.open(workspace, config.lab.name)
    state.update(config=resolved.to_dict(), virthost={"kind": "sandbox", "netns": "ffulab-sandbox"})
    nodes = [
        {"name": "undercloud", "role": "undercloud"},
        {"name": "overcloud-controller-0", "role": "Controller"},
    ]
    release = release or config.release.overcloud
    overcloud = OvercloudRecord(
        release=release, versions=config.series[release].services, identity_url=URL, apis={"identity": URL}
    )
    state.update(layout={"nodes": nodes}, overcloud=overcloud)
    state.data.resources.created = [{"service": "keystone", "kind": "project", "name": "ffulab-project"}]
    state.save()
    return state


@pytest.fixture
def fakes(monkeypatch):
    return Fakes(monkeypatch)


def test_a_passing_baseline_is_recorded_with_its_junit_files(tmp_path, fakes):
    make_lab(tmp_path)
    result = validate(tmp_path, progress=lambda line: None)
    out = tmp_path / "artifacts" / "validate" / "baseline"
    assert result == State.load(tmp_path).data.validations["baseline"]
    assert result["release"] == "2024.1" and result["ok"] is True
    tempest = result["tempest"]
    assert (tempest["passed"], tempest["failed"], tempest["skipped"]) == (2, 0, 0)
    assert tempest["results"] == PASSING
    assert tempest["junit"] == str(out / "junit-tempest.xml") and (out / "junit-tempest.xml").is_file()
    assert result["services"]["junit"] == str(out / "junit-services.xml")
    assert result["services"]["results"] == SERVICES
    assert set(tempest) == {"passed", "failed", "skipped", "seconds", "junit", "results", "selected"}
    assert tempest["selected"] == list(PASSING)


def test_tempest_gets_the_pin_the_job_regex_and_a_private_run_dir(tmp_path, fakes):
    state = make_lab(tmp_path)
    validate(tmp_path, progress=lambda line: None)
    ensure, run, services, resources = fakes.calls
    assert ensure == {"ensure": "45.0.0", "constraints": "upper-constraints-2025.2.txt"}
    config = resolve().config
    assert run["regex"] == config.job.tempest_regex
    assert run["work"] == tmp_path / "validate" / "baseline"
    assert run["netns"] == "ffulab-sandbox"
    assert f"uri_v3 = {URL}" in run["conf"]
    assert State.load(tmp_path).data.validations["baseline"]["tempest"]["passed"] == 2
    assert services == {"services": tmp_path, "nodes": 1}
    assert resources == {"resources": "resources-verify-2024.1"}
    assert state.workspace == tmp_path


def test_a_check_that_ran_nothing_fails_the_validation(tmp_path, fakes):
    make_lab(tmp_path)
    fakes.tempest = {f"{TOKENS}.test_create_token": "skipped"}
    with pytest.raises(ValidationFailed, match=r"tempest ran no test \(1 skipped\)"):
        validate(tmp_path, progress=lambda line: None)
    assert State.load(tmp_path).data.validations["baseline"]["ok"] is False


def test_a_lost_resource_fails_the_validation_naming_it(tmp_path, fakes):
    make_lab(tmp_path)
    fakes.resources = [Item("keystone", "project", "ffulab-project", "MISSING", "not found")]
    with pytest.raises(ValidationFailed, match=r"failed: keystone\.project\.ffulab-project"):
        validate(tmp_path, progress=lambda line: None)


def test_without_a_tempest_regex_the_lab_services_name_the_tests(tmp_path):
    resolved = resolve(extra_vars=["job.tempest_regex=null"])
    assert module.tempest_regex(resolved) == resolved.catalog["keystone"].tempest.regex


def test_the_regex_given_wins(tmp_path, fakes):
    make_lab(tmp_path)
    validate(tmp_path, regex=r"^tempest\.api\.identity\.v3\.test_tokens", progress=lambda line: None)
    assert fakes.calls[1]["regex"] == r"^tempest\.api\.identity\.v3\.test_tokens"


def test_a_failure_raises_after_files_and_state_are_written(tmp_path, fakes):
    make_lab(tmp_path)
    fakes.services = {"tests.services.test_keystone.test_unit[overcloud-controller-0]": "failed"}
    with pytest.raises(ValidationFailed) as raised:
        validate(tmp_path, progress=lambda line: None)
    assert raised.value.exit_code == 1
    assert "failed: tests.services.test_keystone.test_unit[overcloud-controller-0]" in str(raised.value)
    recorded = State.load(tmp_path).data.validations["baseline"]
    assert recorded["ok"] is False and recorded["services"]["failed"] == 1
    assert (tmp_path / "artifacts" / "validate" / "baseline" / "junit-services.xml").is_file()


def test_after_the_ffu_it_is_the_final_run_and_names_regressions(tmp_path, fakes):
    make_lab(tmp_path)
    validate(tmp_path, progress=lambda line: None)
    state = State.load(tmp_path)
    state.data.overcloud.release = "2025.2"
    state.save()
    fakes.tempest = {**PASSING, f"{TOKENS}.test_validate_token": "failed"}
    with pytest.raises(
        ValidationFailed, match=r"regression \(passed at the baseline\): .*test_validate_token"
    ):
        validate(tmp_path, progress=lambda line: None)
    recorded = State.load(tmp_path).data.validations
    assert set(recorded) == {"baseline", "final"}
    assert recorded["final"]["release"] == "2025.2" and recorded["baseline"]["ok"] is True
    assert (tmp_path / "artifacts" / "validate" / "final" / "junit-tempest.xml").is_file()


def test_a_job_without_tempest_runs_only_the_service_checks(tmp_path, fakes):
    make_lab(tmp_path, job="ffu-minimal")
    result = validate(tmp_path, progress=lambda line: None)
    assert result["tempest"] is None and result["services"]["passed"] == 1
    assert [call for call in fakes.calls if "regex" in call] == []
    assert not (tmp_path / "artifacts" / "validate" / "baseline" / "junit-tempest.xml").exists()


def test_a_lab_not_deployed_yet_is_told_so(tmp_path, fakes):
    state = make_lab(tmp_path)
    state.update(overcloud=OvercloudRecord())
    with pytest.raises(Exception, match="no overcloud deployed yet"):
        validate(tmp_path, progress=lambda line: None)


def test_the_phases_record_into_the_pipelines_own_state(tmp_path, fakes):
    """The pipeline saves its State after each phase: the record must be in that object, or it is lost."""
    from ffulab.context import Context
    from ffulab.phases import baseline as baseline_phase
    from ffulab.phases import validate as phase

    state = make_lab(tmp_path)
    ctx = Context(resolved=resolve(), state=state, workspace=tmp_path)
    baseline_phase.run(ctx)
    state.data.overcloud.release = "2025.2"
    state.save()
    phase.run(ctx)
    ctx.state.mark_phase("validate", "done")
    assert set(State.load(tmp_path).data.validations) == {"baseline", "final"}


def test_a_narrower_regex_after_the_ffu_compares_only_the_tests_run_both_times(tmp_path, fakes):
    """Baseline with the job's regex, then ``ffulab validate --tempest-regex`` selecting one test of it:
    the other one is not run, not a regression, and the validation passes saying so."""
    make_lab(tmp_path)
    validate(tmp_path, regex="^tempest", progress=lambda line: None)
    state = State.load(tmp_path)
    state.data.overcloud.release = "2025.2"
    state.save()
    lines: list[str] = []
    result = validate(tmp_path, regex=r"test_create_token$", progress=lines.append)
    assert result["ok"] is True
    assert result["tempest"]["results"] == {f"{TOKENS}.test_create_token": "passed"}
    assert result["not_run"] == [f"{TOKENS}.test_validate_token"]
    assert State.load(tmp_path).data.validations["final"]["not_run"] == [f"{TOKENS}.test_validate_token"]
    assert not any("regression" in line for line in lines), lines
    assert any("1 test(s) of the baseline not run" in line for line in lines), lines
    assert "1 test(s) of the baseline not run" in module.summary(result)


def test_a_failure_with_a_narrower_regex_names_the_failure_and_the_tests_not_run(tmp_path, fakes):
    make_lab(tmp_path)
    validate(tmp_path, regex="^tempest", progress=lambda line: None)
    state = State.load(tmp_path)
    state.data.overcloud.release = "2025.2"
    state.save()
    fakes.tempest = {**PASSING, f"{TOKENS}.test_create_token": "failed"}
    with pytest.raises(ValidationFailed) as raised:
        validate(tmp_path, regex=r"test_create_token$", progress=lambda line: None)
    message = str(raised.value)
    assert f"regression (passed at the baseline): {TOKENS}.test_create_token" in message
    assert f"regression (passed at the baseline): {TOKENS}.test_validate_token" not in message
    assert "1 test(s) of the baseline not run" in message


def test_tempest_is_refused_on_an_ssh_virthost_before_anything_runs(tmp_path):
    """Tempest runs on the client: it cannot reach a lab whose networks are on another machine, and must
    not try from this machine's namespace."""
    state = State.open(tmp_path / "ws", "lab")
    state.update(virthost={"kind": "ssh", "spec": "ssh://lab1", "uri": "qemu+ssh://lab1/system"})
    resolved = SimpleNamespace(config=SimpleNamespace(tempest=object()))
    with pytest.raises(FfulabError, match="Tempest cannot reach the lab on virthost ssh://lab1"):
        module._tempest(state, resolved, ".*", tmp_path / "out", print)
