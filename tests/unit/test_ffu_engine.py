"""The FFU engine's walk: positions, targets, state after every step, resume, rerun after a failure."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from ffulab.errors import FfulabError, PhaseError, UsageError
from ffulab.ffu.engine import FfuPlan, record_checks, run_ffu
from ffulab.ffu.positions import DONE, FINAL_STEP, positions, start_index
from ffulab.state import FfuRecord, State

CHAIN = ["2024.1", "2024.2", "2025.1", "2025.2"]


def test_positions_are_steps_1_to_9_of_each_intermediate_release_then_the_final_deploy():
    order = positions(CHAIN)
    assert order[:9] == [("2024.2", step) for step in range(1, 10)]
    assert order[9:18] == [("2025.1", step) for step in range(1, 10)]
    assert order[-1] == ("2025.2", FINAL_STEP)
    assert len(order) == 19


def test_a_slurp_hop_goes_through_steps_1_to_9_at_n_plus_2_then_its_final_deploy():
    order = positions(["2024.1", "2025.1"], "slurp")
    assert order == [*(("2025.1", step) for step in range(1, 10)), ("2025.1", FINAL_STEP)]
    resumed = start_index(["2024.1", "2025.1"], FfuRecord(release="2025.1", step=FINAL_STEP), path="slurp")
    assert order[resumed] == ("2025.1", FINAL_STEP), "a hop cut after step 9 resumes at its final deploy"


@pytest.mark.parametrize(
    ("ffu_state", "expected"),
    [
        (FfuRecord(), ("2024.2", 1)),
        (FfuRecord(release="2024.2", step=6), ("2024.2", 6)),
        (FfuRecord(release="2024.2", step=DONE), ("2025.1", 1)),
        (FfuRecord(release="2025.1", step=DONE), ("2025.2", FINAL_STEP)),
    ],
)
def test_resume_starts_at_the_step_that_did_not_finish(ffu_state, expected):
    assert positions(CHAIN)[start_index(CHAIN, ffu_state)] == expected


def test_from_release_and_step_are_checked():
    assert positions(CHAIN)[start_index(CHAIN, FfuRecord(), "2025.1", 8)] == ("2025.1", 8)
    with pytest.raises(UsageError, match=r"--from-release: '2024\.1' is not a release the upgrade goes to"):
        start_index(CHAIN, FfuRecord(), "2024.1", 1)
    with pytest.raises(UsageError, match=r"release 2025\.2 has step\(s\) final, not 4"):
        start_index(CHAIN, FfuRecord(), "2025.2", 4)
    assert positions(CHAIN)[start_index(CHAIN, FfuRecord(), "2025.2")] == ("2025.2", FINAL_STEP)


class Recorder:
    """run_playbook: records (playbook, release, step, limit); a step 9 prints the roles' checks."""

    def __init__(self, fail_at=None, checks=""):
        self.calls, self.fail_at, self.checks = [], fail_at, checks

    def __call__(self, playbook, extravars, limit, label):
        if (extravars["release"], extravars["step"]) == self.fail_at:
            raise FfulabError("task 'db_sync' failed on overcloud-controller-0: boom")
        self.calls.append((playbook, extravars["release"], extravars["step"], limit))
        assert ("ffulab_step_parts" in extravars) == (playbook == "ffu.yml"), (
            "parts only for a step's playbook"
        )
        stdout = self.checks if playbook == "ffu.yml" and extravars["step"] == 9 else ""
        return SimpleNamespace(outputs=[{"role": "keystone", "stdout": stdout}])


@pytest.fixture
def state(tmp_path):
    return State.open(tmp_path / "ws", "keystone-only")


def _plan(recorder, snapshots=None):
    return FfuPlan(
        chain=CHAIN,
        role_nodes={
            "Controller": ["overcloud-controller-0", "overcloud-controller-1"],
            "Compute": ["compute-0"],
        },
        extravars=lambda release: {"keystone_version": release},
        run_playbook=recorder,
        snapshot=(snapshots.append if snapshots is not None else lambda release: None),
        rerun="ffulab ffu -w WS",
    )


def test_a_full_run_visits_every_position_on_the_right_nodes(state):
    recorder, snapshots = Recorder(), []
    result = run_ffu(state, _plan(recorder, snapshots), progress=lambda line: None)
    assert result.status == "done"
    prep = [call for call in recorder.calls if call[1:3] == ("2024.2", 2)]
    assert [call[0] for call in prep] == ["ffu.yml", "ffu.yml"]
    assert [call[3] for call in prep] == ["overcloud-controller-0,compute-0", "overcloud-controller-1"], (
        "a role's nodes go one at a time, roles side by side"
    )
    bootstrap = [call for call in recorder.calls if call[1:3] == ("2024.2", 8)]
    assert [call[3] for call in bootstrap] == ["overcloud-controller-0,compute-0"]
    final = [call[3] for call in recorder.calls if call[0] == "overcloud.yml"]
    assert final == ["overcloud-controller-0", "overcloud-controller-1", "compute-0"], (
        "the final deploy goes role after role (control plane first), one node at a time"
    )
    assert recorder.calls[-1] == ("ffu.yml", "2025.2", 9, "overcloud-controller-0,compute-0"), (
        "step 9's checks at N+3 too, after the final deploy, on one node per role"
    )
    assert len(recorder.calls) == 19 + 6 + 1 + 1 + 1, "one more final run: the nodes of a role one by one"
    assert snapshots == ["2024.2", "2025.1", "2025.2"]
    steps = State.load(state.workspace).data.ffu.steps
    assert set(steps) == {f"{r}/{s}" for r, s in positions(CHAIN)}
    assert all(step.ended >= step.started for step in steps.values())


def test_the_canary_goes_alone_first_and_the_final_deploy_reaches_the_undercloud(state):
    recorder = Recorder()
    plan = _plan(recorder)
    plan.canary, plan.final_extra_hosts = "overcloud-controller-1", ["undercloud"]
    run_ffu(state, plan, progress=lambda line: None)
    final = [call[3] for call in recorder.calls if call[0] == "overcloud.yml"]
    assert final == [
        "overcloud-controller-1,undercloud",
        "overcloud-controller-0,undercloud",
        "compute-0,undercloud",
    ]
    prep = [call[3] for call in recorder.calls if call[1:3] == ("2024.2", 2)]
    assert prep == ["overcloud-controller-1", "overcloud-controller-0,compute-0"]


def _computes(recorder):
    plan = _plan(recorder)
    plan.role_nodes = {"Controller": ["ctl-0"], "Compute": ["compute-0", "compute-1"]}
    plan.canary = "compute-0"
    return plan


def test_the_canary_compute_is_checked_after_its_final_deploy_before_the_other_compute_moves(state):
    recorder, checked = Recorder(), []

    def after_canary(node):
        checked.append((node, [c[3] for c in recorder.calls if c[0] == "overcloud.yml"]))
        return "3 resource(s) verified"

    plan = _computes(recorder)
    plan.after_canary = after_canary
    run_ffu(state, plan, progress=lambda line: None)
    assert checked == [("compute-0", ["ctl-0", "compute-0"])], "controllers first, then the canary, checked"
    final = [c[3] for c in recorder.calls if c[0] == "overcloud.yml"]
    assert final == ["ctl-0", "compute-0", "compute-1"]
    runs = State.load(state.workspace).data.ffu.steps["2025.2/10"].runs
    assert [(run.what, run.hosts, run.status) for run in runs] == [
        ("ffu-2025.2-final", ["ctl-0"], "done"),
        ("ffu-2025.2-final", ["compute-0"], "done"),
        ("canary check", ["compute-0"], "done"),
        ("ffu-2025.2-final", ["compute-1"], "done"),
        ("ffu-2025.2-checks", ["ctl-0", "compute-0"], "done"),
    ]
    assert runs[2].detail == "3 resource(s) verified"
    assert all(a.started <= b.started for a, b in itertools.pairwise(runs))


def test_a_failed_canary_check_stops_the_ffu_with_the_other_computes_untouched(state):
    recorder = Recorder()
    plan = _computes(recorder)

    def after_canary(node):
        raise FfulabError("workload not answering on compute-0")

    plan.after_canary = after_canary
    with pytest.raises(PhaseError, match="workload not answering on compute-0") as raised:
        run_ffu(state, plan, progress=lambda line: None)
    assert "--from-step final" in str(raised.value.rerun)
    assert [c[3] for c in recorder.calls if c[0] == "overcloud.yml"] == ["ctl-0", "compute-0"]
    saved = State.load(state.workspace).data.ffu
    assert saved.status == "failed"
    assert [(run.what, run.status) for run in saved.steps["2025.2/10"].runs][-1] == ("canary check", "failed")


def test_a_step_no_service_acts_at_is_recorded_and_not_run(state):
    recorder = Recorder()
    plan = _plan(recorder)
    plan.active_steps = {2, 8}
    run_ffu(state, plan, progress=lambda line: None)
    assert {call[2] for call in recorder.calls if call[0] == "ffu.yml"} == {2, 8}
    steps = State.load(state.workspace).data.ffu.steps
    assert steps["2024.2/1"].status == "nothing to do"
    assert steps["2024.2/2"].status == "done"


def test_stop_after_ends_the_walk_there_and_a_rerun_continues(state):
    recorder = Recorder()
    run_ffu(state, _plan(recorder), progress=lambda line: None, stop_after=("2024.2", 4))
    assert recorder.calls[-1][1:3] == ("2024.2", 4)
    saved = State.load(state.workspace).data.ffu
    assert (saved.release, saved.step) == ("2024.2", 5)


def test_a_failing_step_stops_with_the_rerun_command_and_resume_continues_there(state):
    with pytest.raises(PhaseError) as failure:
        run_ffu(state, _plan(Recorder(fail_at=("2024.2", 6))), progress=lambda line: None)
    message = str(failure.value)
    assert "step 6 of release 2024.2 failed" in message and "db_sync" in message
    assert "ffulab ffu -w WS --from-release 2024.2 --from-step 6" in message
    saved = State.load(state.workspace).data.ffu
    assert (saved.release, saved.step, saved.status) == ("2024.2", 6, "failed")

    recorder = Recorder()
    run_ffu(State.load(state.workspace), _plan(recorder), progress=lambda line: None)
    assert recorder.calls[0][1:3] == ("2024.2", 6), "the rerun continues at the step that failed"
    assert len(recorder.calls) == 19 + 6 + 1 + 1 + 1 - 5 - 3


def test_the_roles_checks_are_kept_per_release_and_service(state):
    lines = "ffulab-check: schema-at-head ok abc def\n"
    lines += "ffulab-check: upgrade-check warning Check: x Result: Warning\n"
    progress = []
    run_ffu(state, _plan(Recorder(checks=lines)), progress=progress.append)
    checks = State.load(state.workspace).data.ffu.checks
    assert set(checks) == {"2024.2", "2025.1", "2025.2"}
    assert checks["2025.2"]["keystone"]["schema-at-head"].status == "ok"
    assert checks["2024.2"]["keystone"]["upgrade-check"].status == "warning"
    assert "2024.2 check keystone upgrade-check: warning Check: x Result: Warning" in progress


def test_checks_of_a_steps_parts_belong_to_the_service_before_them():
    ffu = FfuRecord()
    stdout = "\n".join(
        [
            "ffulab-part: keystone check",
            "ffulab-check: upgrade-check ok all good",
            "ffulab-part: placement check",
            "ffulab-check: upgrade-check failed exit 2 Check: x",
        ]
    )
    noted = record_checks(ffu, "2024.2", SimpleNamespace(outputs=[{"role": "", "stdout": stdout}]))
    assert ffu.checks["2024.2"]["keystone"]["upgrade-check"].status == "ok"
    assert ffu.checks["2024.2"]["placement"]["upgrade-check"].status == "failed"
    assert noted == ["placement upgrade-check: failed exit 2 Check: x"]


def test_a_slurp_run_takes_steps_1_to_9_at_n_plus_2_then_deploys_it(state):
    recorder, snapshots = Recorder(), []
    plan = _plan(recorder, snapshots)
    plan.chain, plan.path = ["2024.1", "2025.1"], "slurp"
    run_ffu(state, plan, progress=lambda line: None)
    assert [
        call[1:3]
        for call in recorder.calls
        if call[0] == "ffu.yml" and call[3].startswith("overcloud-controller-0")
    ][:9] == [("2025.1", step) for step in range(1, 10)]
    assert recorder.calls[-2][:3] == ("overcloud.yml", "2025.1", FINAL_STEP)
    assert snapshots == ["2025.1"], "one release, snapshot once it is deployed"
    assert State.load(state.workspace).data.ffu.path == "slurp"


def test_a_checkpoint_comes_before_each_step_that_does_work(state):
    recorder, checkpoints = Recorder(), []
    plan = _plan(recorder)
    plan.active_steps = {2, 8}
    plan.checkpoint = lambda position: checkpoints.append(
        (position, State.load(state.workspace).data.ffu.step)
    )
    run_ffu(state, plan, progress=lambda line: None)
    assert [position for position, _ in checkpoints] == [
        ("2024.2", 2), ("2024.2", 8), ("2025.1", 2), ("2025.1", 8), ("2025.2", FINAL_STEP),
    ]  # fmt: skip
    assert [step for _, step in checkpoints][1] == 8, "the state already says the lab is at that step"
