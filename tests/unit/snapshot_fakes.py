"""A lab on libvirt's ``test:///default`` driver for the snapshot tests, with SSH and qemu-img faked.

Each ``test:///default`` connection starts from scratch, so ``libvirt_open`` is patched to yield
one shared connection for the whole test.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ffulab.config.resolve import resolve
from ffulab.provision import access
from ffulab.provision.layout import Layout, allocate_subnets, build_layout, lab_id_for
from ffulab.snapshot import lab, usable
from ffulab.state import State

VM_STATE_BYTES = 1000


def domain_xml(name: str, disk: str) -> str:
    return (
        f"<domain type='test'><name>{name}</name><memory unit='MiB'>1024</memory>"
        "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
        f"<source file='{disk}'/><target dev='vda'/></disk></devices></domain>"
    )


@dataclass
class FakeVirthost:
    """What the snapshot code asks of a virthost; qemu-img answers from the test connection."""

    conn: object
    uri: str = "test:///default"
    netns: str | None = None
    commands: list[list[str]] = field(default_factory=list)

    def on_host(self, argv: list[str]) -> list[str]:
        self.commands.append(list(argv))
        names = sorted({s for d in self.conn.listAllDomains() for s in d.snapshotListNames()})
        info = {
            "actual-size": 4096,
            "snapshots": [{"name": n, "vm-state-size": VM_STATE_BYTES} for n in names],
        }
        return ["sh", "-c", f"echo {shlex.quote(json.dumps(info))}"]

    def wrap(self, argv: list[str]) -> list[str]:
        self.commands.append(list(argv))
        return ["true"]  # never touch the host's neighbour tables from a unit test


@dataclass
class FakeSsh:
    """Records SSH masters closed and clocks stepped, in order."""

    events: list[tuple[str, str]] = field(default_factory=list)
    offset: float = 0.01

    def close_masters(self, workspace: Path, nodes: list[str]) -> None:
        self.events += [("close", node) for node in nodes]

    def set_clock(self, workspace: Path, node: str, timeout: float = 20) -> float:
        self.events.append(("clock", node))
        return self.offset


@dataclass
class FakeLab:
    state: State
    conn: object
    layout: Layout
    virthost: FakeVirthost
    ssh: FakeSsh

    def domain(self, node: str):
        return self.conn.lookupByName(self.layout.node(node).domain)

    def snapshots(self, node: str) -> list[str]:
        return self.domain(node).snapshotListNames()

    def power(self, node: str) -> int:
        return self.domain(node).state()[0]


def make_fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLab]:
    """A generator for a ``fake_lab`` fixture: ``yield from make_fake_lab(tmp_path, monkeypatch)``."""
    libvirt = pytest.importorskip("libvirt")
    conn = libvirt.open("test:///default")
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    @contextmanager
    def shared(uri: str, readonly: bool = False):
        yield conn

    config = resolve(nodes="1ctlr").config
    workspace = tmp_path / "ws"
    layout = build_layout(config, lab_id_for(config.lab.name, workspace), allocate_subnets([]))
    state = State.open(workspace, config.lab.name)
    state.update(
        layout=layout.to_dict(),
        virthost={"kind": "fake", "spec": "fake", "uri": "test:///default"},
        config={"config": config.model_dump(mode="json")},
    )
    for phase in ("virthost", "image", "provision", "bmc"):
        state.mark_phase(phase, "done", seconds=1.0)
    for node in layout.nodes:
        conn.defineXML(domain_xml(node.domain, str(workspace / "disks" / f"{node.name}.qcow2"))).create()
    virthost = FakeVirthost(conn)
    ssh = FakeSsh()
    monkeypatch.setattr(lab, "libvirt_open", shared)
    monkeypatch.setattr(lab, "lab_virthost", lambda _state: virthost)
    monkeypatch.setattr(access, "close_masters", ssh.close_masters)
    monkeypatch.setattr(usable, "set_clock", ssh.set_clock)
    monkeypatch.setattr("ffulab.commands.snapshot.libvirt_open", shared)
    monkeypatch.setattr("ffulab.commands.snapshot.lab_virthost", lambda _state: virthost)
    yield FakeLab(state, conn, layout, virthost, ssh)
    conn.close()
