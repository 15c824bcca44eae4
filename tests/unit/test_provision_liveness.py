"""A node whose domain stopped under a phase is named in the phase's error, with libvirt's reason and its
QEMU log's last word, instead of leaving the SSH symptom (``kex_exchange_identification: Connection
closed by remote host``) to speak for it. The lab runs on libvirt's test:///default driver."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from phase_fakes import fake_phases
from snapshot_fakes import FakeLab, make_fake_lab

from ffulab.config.resolve import resolve
from ffulab.context import Context
from ffulab.errors import PhaseError, VirthostError
from ffulab.pipeline import run_phases
from ffulab.provision import liveness

SSH_SYMPTOM = (
    "step 9 of release 2025.1 failed: ffu.yml: task 'The keystone script, check' failed on "
    "overcloud-controller-0: Failed to connect to the host via ssh: kex_exchange_identification: "
    "Connection closed by remote host"
)
QEMU_LOG = [
    "2026-12-04T19:02:10.100000Z qemu-system-x86_64: terminating on signal 15 from pid 8961 (libvirtd)",
    "2026-12-04 19:02:12.000+0000: shutting down, reason=destroyed",
    "2026-12-04 20:13:23.900+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.0",
    "2026-12-04 20:13:24.250+0000: Domain id=6 is tainted: high-privileges",
    "char device redirected to /dev/pts/5 (label charserial0)",
    "2026-12-04T22:02:14.746346Z qemu-system-x86_64: terminating on signal 15 from pid 26663 (pkill)",
    "2026-12-04 22:02:16.375+0000: shutting down, reason=shutdown",
]


def with_qemu_logs(lab: FakeLab, monkeypatch: pytest.MonkeyPatch) -> FakeLab:
    """The lab's domains recorded as created, liveness on its connection, QEMU logs in ``lab.qemu_logs``."""
    for node in lab.layout.nodes:
        with lab.state.creating("domain", node.domain, node=node.name):
            pass
    logs: dict[str, list[str]] = {}

    @contextmanager
    def shared(uri: str, readonly: bool = False):
        yield lab.conn

    def on_host(argv: list[str]) -> list[str]:
        lab.virthost.commands.append(list(argv))
        domain = argv[-1].rsplit("/", 1)[-1].removesuffix(".log")
        return ["printf", "%s\\n", *logs[domain]] if logs.get(domain) else ["true"]

    lab.virthost.on_host = on_host
    lab.qemu_logs = logs
    monkeypatch.setattr(liveness, "libvirt_open", shared)
    monkeypatch.setattr(liveness, "lab_virthost", lambda _state: lab.virthost)
    return lab


@pytest.fixture
def fake_lab(tmp_path, monkeypatch):
    for lab in make_fake_lab(tmp_path, monkeypatch):
        yield with_qemu_logs(lab, monkeypatch)


def kill(lab: FakeLab, node: str) -> str:
    """What a ``pkill`` of the node's QEMU leaves: its domain off, its QEMU log saying so."""
    domain = lab.layout.node(node).domain
    lab.domain(node).destroy()
    lab.qemu_logs[domain] = QEMU_LOG
    return domain


def test_a_killed_node_is_named_with_its_state_reason_and_qemus_last_word(fake_lab):
    domain = kill(fake_lab, "overcloud-controller-0")
    (line,) = liveness.nodes_down(fake_lab.state, "ffu")
    assert line.startswith(f"overcloud-controller-0: domain {domain} is shut off (reason: destroyed)"), line
    assert line.endswith(f"its QEMU log: {QEMU_LOG[-2]} | {QEMU_LOG[-1]}"), (
        "the lines since its last start that say why it stopped, not an earlier stop's"
    )
    assert ["tail", "-n", "50", f"/var/log/libvirt/qemu/{domain}.log"] in fake_lab.virthost.commands


def test_the_signal_and_its_sender_are_kept_when_libvirt_wrote_nothing_after_them(fake_lab):
    domain = kill(fake_lab, "undercloud")
    fake_lab.qemu_logs[domain] = QEMU_LOG[:-1]
    (line,) = liveness.nodes_down(fake_lab.state, "validate")
    assert line.endswith("its QEMU log: " + QEMU_LOG[-2]), line


def test_a_paused_node_is_named_too(fake_lab):
    fake_lab.domain("undercloud").suspend()
    (line,) = liveness.nodes_down(fake_lab.state, "overcloud")
    assert line.startswith("undercloud: domain ") and " is paused (reason: user)" in line, line


def test_running_nodes_add_nothing(fake_lab):
    assert liveness.nodes_down(fake_lab.state, "ffu") == []
    assert liveness.down_note(fake_lab.state, "ffu") == ""
    assert not fake_lab.virthost.commands, "no QEMU log is read for a node that runs"


def test_before_bmc_the_overcloud_is_meant_to_be_off(fake_lab):
    kill(fake_lab, "overcloud-controller-0")
    assert liveness.nodes_down(fake_lab.state, "provision") == []
    assert liveness.nodes_down(fake_lab.state, "bmc") == [], "bmc powers the overcloud on: off is expected"
    kill(fake_lab, "undercloud")
    assert [line.split(":")[0] for line in liveness.nodes_down(fake_lab.state, "bmc")] == ["undercloud"]


def test_a_domain_the_lab_never_created_is_not_checked(fake_lab):
    kill(fake_lab, "overcloud-controller-0")
    fake_lab.state.data.owned = [
        owned for owned in fake_lab.state.data.owned if "controller" not in owned.name
    ]
    assert liveness.nodes_down(fake_lab.state, "ffu") == []


def test_a_libvirt_that_cannot_answer_leaves_the_error_as_it_was(fake_lab, monkeypatch):
    kill(fake_lab, "overcloud-controller-0")

    @contextmanager
    def gone(uri: str, readonly: bool = False):
        raise VirthostError(f"cannot connect to libvirt at {uri}: Connection refused")
        yield

    monkeypatch.setattr(liveness, "libvirt_open", gone)
    assert liveness.down_note(fake_lab.state, "ffu") == ""


def test_the_failed_phase_names_the_killed_node_and_keeps_its_message_and_rerun(fake_lab, monkeypatch):
    domain = kill(fake_lab, "overcloud-controller-0")
    ctx = Context(
        resolved=resolve(extra_vars=["settings.snapshots.auto=false"]),
        state=fake_lab.state,
        workspace=fake_lab.state.workspace,
    )

    def step_fails(c):
        raise PhaseError("ffu", SSH_SYMPTOM, rerun="ffulab ffu -w WS --from-release 2025.1 --from-step 9")

    fake_phases(monkeypatch, {"ffu": step_fails})
    with pytest.raises(PhaseError) as raised:
        run_phases(ctx, ["ffu"])
    message = str(raised.value)
    assert message.startswith(f"phase 'ffu' failed: {SSH_SYMPTOM}\nnodes of the lab are not running"), message
    assert f"overcloud-controller-0: domain {domain} is shut off (reason: destroyed)" in message
    assert "terminating on signal 15 from pid 26663 (pkill)" in message
    assert message.endswith("rerun with: ffulab ffu -w WS --from-release 2025.1 --from-step 9")
    assert raised.value.rerun == "ffulab ffu -w WS --from-release 2025.1 --from-step 9"
    assert "pkill" in fake_lab.state.data.phases["ffu"].error, "the state records what the user reads"


def test_a_failure_with_every_node_running_is_left_as_it_was(fake_lab, monkeypatch):
    ctx = Context(
        resolved=resolve(extra_vars=["settings.snapshots.auto=false"]),
        state=fake_lab.state,
        workspace=fake_lab.state.workspace,
    )
    original = PhaseError("ffu", SSH_SYMPTOM, rerun="ffulab ffu -w WS")

    def step_fails(c):
        raise original

    fake_phases(monkeypatch, {"ffu": step_fails})
    with pytest.raises(PhaseError) as raised:
        run_phases(ctx, ["ffu"])
    assert raised.value is original
