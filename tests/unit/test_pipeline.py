"""The pipeline: phases in order, state per phase, clear stops at failures and missing phases."""

from __future__ import annotations

import types

import pytest

from ffulab import pipeline
from ffulab.config.resolve import resolve
from ffulab.errors import FfulabError, NotImplementedPhase, PhaseError
from ffulab.phases import PHASE_NAMES, select
from ffulab.pipeline import Context, run_phases
from ffulab.state import State


@pytest.fixture
def ctx(tmp_path):
    state = State.open(tmp_path / "ws", "keystone-only")
    config = resolve(extra_vars=["settings.snapshots.auto=false"])
    return Context(resolved=config, state=state, workspace=tmp_path / "ws")


def _fake_phases(monkeypatch, behaviour):
    modules = {}
    for name, action in behaviour.items():
        module = types.ModuleType(f"fake_{name}")
        module.run = action
        modules[f"fake.{name}"] = module
    monkeypatch.setattr(pipeline, "RUNNERS", {name: f"fake.{name}" for name in behaviour})
    monkeypatch.setattr(pipeline.importlib, "import_module", lambda name: modules[name])


def test_select_keeps_pipeline_order_and_skips():
    assert select(["provision", "virthost"], None) == ["virthost", "provision"]
    assert select(None, ["report"]) == list(PHASE_NAMES[:-1])
    with pytest.raises(ValueError, match="provison"):
        select(["provison"], None)


def test_phases_run_in_order_and_are_recorded(ctx, monkeypatch):
    order = []
    _fake_phases(
        monkeypatch,
        {"virthost": lambda c: order.append("virthost"), "image": lambda c: order.append("image")},
    )
    run_phases(ctx, ["virthost", "image"])
    assert order == ["virthost", "image"]
    phases = State.load(ctx.workspace).get("phases")
    assert phases["virthost"]["status"] == phases["image"]["status"] == "done"
    assert set(ctx.timings) == {"virthost", "image"}


def test_a_failing_phase_stops_the_run_named_and_recorded(ctx, monkeypatch):
    def broken(c):
        raise FfulabError("the disk is full")

    ran = []
    _fake_phases(monkeypatch, {"virthost": broken, "image": lambda c: ran.append("image")})
    with pytest.raises(PhaseError, match="phase 'virthost' failed: the disk is full"):
        run_phases(ctx, ["virthost", "image"])
    assert not ran
    assert State.load(ctx.workspace).get("phases")["virthost"]["status"] == "failed"
    assert "virthost" in ctx.timings


def test_a_phase_without_a_module_says_which_phase_is_missing(ctx, monkeypatch):
    monkeypatch.setitem(pipeline.RUNNERS, "report", "ffulab.no_such_module")
    with pytest.raises(NotImplementedPhase, match="phase 'report' is not implemented yet"):
        run_phases(ctx, ["report"])
