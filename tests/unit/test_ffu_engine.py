"""The FFU engine's walk: positions, targets, state after every step, resume, rerun after a failure."""

from __future__ import annotations

import pytest

from ffulab.errors import FfulabError, PhaseError, UsageError
from ffulab.ffu.engine import FfuPlan, run_ffu
from ffulab.ffu.positions import DONE, positions, start_index
from ffulab.state import State

CHAIN = ["2024.1", "2024.2", "2025.1", "2025.2"]


def test_positions_are_steps_1_to_9_of_each_intermediate_release_then_the_final_deploy():
    order = positions(CHAIN)
    assert order[:9] == [("2024.2", step) for step in range(1, 10)]
    assert order[9:18] == [("2025.1", step) for step in range(1, 10)]
    assert order[-1] == ("2025.2", 1)
    assert len(order) == 19


@pytest.mark.parametrize(
    ("ffu_state", "expected"),
    [
        (None, ("2024.2", 1)),
        ({"release": "2024.2", "step": 6}, ("2024.2", 6)),
        ({"release": "2024.2", "step": DONE}, ("2025.1", 1)),
        ({"release": "2025.1", "step": DONE}, ("2025.2", 1)),
    ],
)
def test_resume_starts_at_the_step_that_did_not_finish(ffu_state, expected):
    assert positions(CHAIN)[start_index(CHAIN, ffu_state)] == expected


def test_from_release_and_step_are_checked():
    assert positions(CHAIN)[start_index(CHAIN, None, "2025.1", 8)] == ("2025.1", 8)
    with pytest.raises(UsageError, match=r"--from-release: '2024\.1' is not a release the FFU goes to"):
        start_index(CHAIN, None, "2024.1", 1)
    with pytest.raises(UsageError, match=r"release 2025\.2 has step"):
        start_index(CHAIN, None, "2025.2", 4)


class Recorder:
    def __init__(self, fail_at=None):
        self.calls, self.fail_at = [], fail_at

    def __call__(self, playbook, extravars, limit, label):
        if (extravars["release"], extravars["step"]) == self.fail_at:
            raise FfulabError("task 'db_sync' failed on overcloud-controller-0: boom")
        self.calls.append((playbook, extravars["release"], extravars["step"], limit))


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
    assert result["status"] == "done"
    assert len(recorder.calls) == 19
    prep = recorder.calls[1]
    assert prep[:3] == ("ffu.yml", "2024.2", 2)
    assert prep[3] == "overcloud-controller-0,overcloud-controller-1,compute-0"
    bootstrap = recorder.calls[7]
    assert bootstrap[2] == 8 and bootstrap[3] == "overcloud-controller-0,compute-0"
    assert recorder.calls[-1][:3] == ("overcloud.yml", "2025.2", 1)
    assert snapshots == ["2024.2", "2025.1", "2025.2"]
    assert set(State.load(state.workspace).get("ffu")["steps"]) == {f"{r}/{s}" for r, s in positions(CHAIN)}


def test_a_failing_step_stops_with_the_rerun_command_and_resume_continues_there(state):
    with pytest.raises(PhaseError) as failure:
        run_ffu(state, _plan(Recorder(fail_at=("2024.2", 6))), progress=lambda line: None)
    message = str(failure.value)
    assert "step 6 of release 2024.2 failed" in message and "db_sync" in message
    assert "ffulab ffu -w WS --from-release 2024.2 --from-step 6" in message
    saved = State.load(state.workspace).get("ffu")
    assert (saved["release"], saved["step"], saved["status"]) == ("2024.2", 6, "failed")

    recorder = Recorder()
    run_ffu(State.load(state.workspace), _plan(recorder), progress=lambda line: None)
    assert recorder.calls[0][1:3] == ("2024.2", 6), "the rerun continues at the step that failed"
    assert len(recorder.calls) == 19 - 5
