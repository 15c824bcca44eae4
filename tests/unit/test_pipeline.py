"""The pipeline: phases in order, state per phase, clear stops at failures and missing phases."""

from __future__ import annotations

import pytest
from phase_fakes import fake_phases

from ffulab import pipeline
from ffulab.config.resolve import resolve
from ffulab.context import Context
from ffulab.errors import FfulabError, PhaseError
from ffulab.phases import PHASE_NAMES, select
from ffulab.pipeline import run_phases
from ffulab.state import State


@pytest.fixture
def ctx(tmp_path):
    state = State.open(tmp_path / "ws", "keystone-only")
    config = resolve(extra_vars=["settings.snapshots.auto=false"])
    return Context(resolved=config, state=state, workspace=tmp_path / "ws")


def test_select_keeps_pipeline_order_and_skips():
    assert select(["provision", "virthost"], None) == ["virthost", "provision"]
    assert select(None, ["report"]) == list(PHASE_NAMES[:-1])
    with pytest.raises(ValueError, match="provison"):
        select(["provison"], None)


def test_phases_run_in_order_and_are_recorded(ctx, monkeypatch):
    order = []
    fake_phases(
        monkeypatch,
        {"virthost": lambda c: order.append("virthost"), "image": lambda c: order.append("image")},
    )
    run_phases(ctx, ["virthost", "image"])
    assert order == ["virthost", "image"]
    phases = State.load(ctx.workspace).data.dump()["phases"]
    assert phases["virthost"]["status"] == phases["image"]["status"] == "done"
    assert set(ctx.timings) == {"virthost", "image"}


def test_a_failing_phase_stops_the_run_named_and_recorded(ctx, monkeypatch):
    def broken(c):
        raise FfulabError("the disk is full")

    ran = []
    fake_phases(monkeypatch, {"virthost": broken, "image": lambda c: ran.append("image")})
    with pytest.raises(PhaseError, match="phase 'virthost' failed: the disk is full"):
        run_phases(ctx, ["virthost", "image"])
    assert not ran
    assert State.load(ctx.workspace).data.phases["virthost"].status == "failed"
    assert "virthost" in ctx.timings


def _provisioned(tmp_path, *flags):
    """A workspace whose lab was provisioned from ``resolve(*flags)`` (start_run, then a layout)."""
    state, _ = pipeline.start_run(resolve(**dict(flags)), tmp_path / "ws", None, "run")
    state.update(layout={"recorded": "by the provision phase"})
    return tmp_path / "ws"


def test_a_rerun_with_the_same_nodes_goes_on(tmp_path):
    workspace = _provisioned(tmp_path, ("nodes", "3ctlr"))
    state, _ = pipeline.start_run(
        resolve(nodes="3ctlr", extra_vars=["settings.ffu.canary=true"]), workspace, None, "run"
    )
    assert state.data.config["files"]["nodes"] == "nodes/3ctlr.yml"


def test_a_rerun_that_forgets_n_is_refused_naming_the_flag(tmp_path):
    workspace = _provisioned(tmp_path, ("nodes", "3ctlr"))
    with pytest.raises(FfulabError) as caught:
        pipeline.start_run(resolve(), workspace, None, "run")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "provisioned with nodes 3ctlr (nodes/3ctlr.yml); this run resolves nodes 1ctlr" in message
    assert "-N nodes/3ctlr.yml" in message
    assert State.load(workspace).data.config["files"]["nodes"] == "nodes/3ctlr.yml", "the record is kept"


def test_other_node_values_are_refused_too(tmp_path):
    workspace = _provisioned(tmp_path, ("nodes", "1ctlr"))
    with pytest.raises(FfulabError, match="other values for them"):
        pipeline.start_run(resolve(extra_vars=["nodes.overcloud.0.memory=4096"]), workspace, None, "run")
