"""The overcloud nodes boot while the undercloud phase fills the mirror: the wait for their SSH moves from
the bmc phase to the end of the undercloud phase when both run, and happens once."""

from __future__ import annotations

import time

import pytest

from ffulab.bmc import power
from ffulab.config.resolve import resolve
from ffulab.context import Context
from ffulab.state import State

PORTS = {"overcloud-controller-0": 6230, "overcloud-novacompute-0": 6231}


@pytest.fixture
def ctx(tmp_path):
    state = State.open(tmp_path / "ws", "compute")
    return Context(resolved=resolve(), state=state, workspace=tmp_path / "ws")


@pytest.fixture
def waited(monkeypatch) -> list[str]:
    nodes: list[str] = []
    monkeypatch.setattr(
        power, "wait_for_ssh", lambda workspace, node, progress=None: nodes.append(node) or 1.0
    )
    return nodes


def test_each_powered_on_node_is_waited_for_once_with_seconds_from_its_power_on(ctx, waited):
    ctx.state.update(bmc={"address": "192.168.100.1", "ports": PORTS, "powered_on": time.time() - 30})
    power.wait_booted(ctx)
    assert waited == list(PORTS)
    assert all(29 <= ctx.state.data.ssh_seconds[node] < 40 for node in PORTS)
    assert "powered_on" not in ctx.state.data.bmc and ctx.state.data.bmc["ports"] == PORTS
    power.wait_booted(ctx)  # the undercloud phase again, later: the nodes may be off by now
    assert waited == list(PORTS)


def test_nothing_is_waited_for_without_the_bmc_phase_mark(ctx, waited):
    ctx.state.update(bmc={"address": "192.168.100.1", "ports": PORTS})
    power.wait_booted(ctx)
    assert waited == [] and ctx.state.data.ssh_seconds == {}
