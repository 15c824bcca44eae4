"""The state file: typed, atomic, and older formats can still be destroyed."""

import json
from pathlib import Path

import pytest

from ffulab.state import FORMAT, FfuRecord, State, StateError, StepRecord


def test_a_state_file_round_trips_with_its_parts_typed(tmp_path: Path) -> None:
    state = State.open(tmp_path / "ws", "lab")
    state.data.ffu.steps["2024.2/1"] = StepRecord(status="done", seconds=1.5)
    state.update(validations={"baseline": {"ok": True}})
    loaded = State.load(tmp_path / "ws")
    assert loaded.data.ffu.steps["2024.2/1"].seconds == 1.5
    assert json.loads(loaded.path.read_text())["validate"] == {"baseline": {"ok": True}}
    assert loaded.data.ffu.release is None and isinstance(loaded.data.ffu, FfuRecord)


def test_an_unknown_key_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"format": FORMAT, "lab": "l", "ffu": {"stepz": 1}}))
    with pytest.raises(StateError, match=r"ffu\.stepz"):
        State.load(tmp_path)


def test_a_state_file_of_an_older_format_is_salvaged_for_destroy(tmp_path: Path) -> None:
    """Format 1 listed the owned resources under ``resources``: destroy still finds every one."""
    (tmp_path / "state.json").write_text(
        json.dumps({"format": 1, "lab": "l", "phases": {}, "resources": [{"kind": "domain", "name": "d"}]})
    )
    with pytest.raises(StateError, match="state format 1"):
        State.load(tmp_path)
    salvaged = State.salvage(tmp_path)
    assert [(r.kind, r.name) for r in salvaged.resources("domain")] == [("domain", "d")]


def test_a_workspace_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StateError, match="not a directory"):
        State.open(path, "lab")


def test_a_warning_is_kept_once_however_often_the_roles_print_it(tmp_path):
    from ffulab.deploy.ansible import PlaybookResult

    result = PlaybookResult("overcloud.yml", "successful", 1.0, tmp_path / "log")
    result.outputs = [
        {
            "host": "compute-0",
            "role": "nova",
            "task": "t",
            "stdout": "x\nffulab-warning: virt_type qemu: no KVM\r\n",
        },
        {"host": "ctl-0", "role": "nova", "task": "t", "stdout": "nothing to say"},
    ]
    assert result.warnings == ["compute-0: virt_type qemu: no KVM"]
    state = State.open(tmp_path / "ws", "lab")
    state.warn(result.warnings)
    state.warn([*result.warnings, "ctl-0: other"])
    assert State.load(tmp_path / "ws").data.warnings == ["compute-0: virt_type qemu: no KVM", "ctl-0: other"]
