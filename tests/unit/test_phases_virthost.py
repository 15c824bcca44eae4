"""The pipeline's virthost phase: records the virthost and virt type; 'auto' never moves a lab."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ffulab.errors import FfulabError
from ffulab.phases import virthost as phase
from ffulab.state import Owned, State
from ffulab.virthost import Local, Remote, Sandbox, probe


def _state(tmp_path: Path, virthost: dict | None = None, domains: int = 0) -> State:
    state = State.open(tmp_path / "ws", "lab")
    state.data.virthost = virthost
    state.data.owned = [Owned(kind="domain", name=f"d{i}") for i in range(domains)]
    return state


def _ctx(state, option=None, setting="auto"):
    settings = SimpleNamespace(virthost=setting)
    resolved = SimpleNamespace(config=SimpleNamespace(settings=settings))
    lines: list[str] = []
    ctx = SimpleNamespace(
        options={"virthost": option},
        state=state,
        resolved=resolved,
        workspace=Path("/ws"),
        progress=lines.append,
    )
    return ctx, lines


@pytest.fixture(autouse=True)
def no_real_preparation(monkeypatch):
    result = probe.ProbeResult("qemu", "test", "k", 0.4, None)
    for kind in (Local, Sandbox, Remote):
        monkeypatch.setattr(kind, "prepare", lambda self, progress=None: [f"prepared {self.spec}"])
        monkeypatch.setattr(kind, "virt_type", lambda self: (result, False))


def test_records_the_virthost_and_its_virt_type(tmp_path):
    state = _state(tmp_path)
    ctx, lines = _ctx(state, option="local")
    phase.run(ctx)
    assert state.data.virthost["kind"] == "local"
    assert state.data.virt_type == "qemu"
    assert lines[0] == "prepared local"


def test_auto_keeps_the_recorded_virthost(monkeypatch, tmp_path):
    monkeypatch.setattr(phase, "virthost_for", lambda spec: pytest.fail("auto must not choose again"))
    state = _state(tmp_path, {"kind": "sandbox", "spec": "sandbox"}, domains=1)
    phase.run(_ctx(state)[0])
    assert state.data.virthost["spec"] == "sandbox"


def test_an_explicit_other_virthost_for_a_lab_with_resources_is_refused(tmp_path):
    state = _state(tmp_path, {"kind": "sandbox", "spec": "sandbox"}, domains=1)
    with pytest.raises(FfulabError, match="lives on virthost sandbox"):
        phase.run(_ctx(state, option="local")[0])
