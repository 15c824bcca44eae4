"""Lab snapshots on libvirt's test:///default driver: every domain at once, undone on failure, reverted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from snapshot_fakes import VM_STATE_BYTES, FakeLab, make_fake_lab

from ffulab import snapshot
from ffulab.errors import FfulabError, NoSuchSnapshot, SnapshotError
from ffulab.snapshot import domains, records, usable
from ffulab.state import FfuRecord, State

RUNNING, PAUSED, SHUTOFF = 1, 3, 5
NODES = ("undercloud", "overcloud-controller-0")


@pytest.fixture
def fake_lab(tmp_path, monkeypatch):
    yield from make_fake_lab(tmp_path, monkeypatch)


def test_create_snapshots_every_domain_with_memory_and_leaves_them_running(fake_lab: FakeLab):
    outcome = snapshot.create(fake_lab.state, "s1")
    for node in NODES:
        assert fake_lab.snapshots(node) == ["s1"]
        assert fake_lab.power(node) == RUNNING
        xml = fake_lab.domain(node).snapshotLookupByName("s1").getXMLDesc()
        assert "<memory snapshot='internal'" in xml
    assert outcome.record["status"] == "complete"
    assert set(outcome.seconds) >= {"pause", "snapshots", "resume", "create", "clocks"}


def test_create_records_phases_nodes_and_sizes_in_the_state(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    record = State.load(fake_lab.state.workspace).data.snapshots[0]
    assert record["name"] == "s1"
    assert record["phase"] == "bmc"
    assert record["phases"]["provision"]["status"] == "done"
    assert record["ffu"] is None, "no FFU engine state yet: no position"
    assert [n["name"] for n in record["nodes"]] == list(NODES)
    assert all(n["power"] == "running" and n["vm_state_bytes"] == VM_STATE_BYTES for n in record["nodes"])
    assert records.vm_state_bytes(record) == 2 * VM_STATE_BYTES


def test_create_steps_the_clocks_of_running_nodes_after_the_pause(fake_lab: FakeLab):
    outcome = snapshot.create(fake_lab.state, "s1")
    assert sorted(fake_lab.ssh.events) == sorted(("clock", node) for node in NODES)
    assert outcome.nodes["undercloud"]["offset"] == fake_lab.ssh.offset


def test_a_domain_that_is_off_gets_a_disk_only_snapshot_and_no_clock_step(fake_lab: FakeLab):
    fake_lab.domain("overcloud-controller-0").destroy()
    outcome = snapshot.create(fake_lab.state, "s1")
    xml = fake_lab.domain("overcloud-controller-0").snapshotLookupByName("s1").getXMLDesc()
    assert "<memory snapshot='no'" in xml
    assert outcome.record["nodes"][1]["power"] == "off"
    assert fake_lab.power("overcloud-controller-0") == SHUTOFF
    assert ("clock", "overcloud-controller-0") not in fake_lab.ssh.events


def test_without_a_name_create_makes_a_timestamped_one(fake_lab: FakeLab):
    outcome = snapshot.create(fake_lab.state)
    assert outcome.record["name"].startswith("snap-")
    assert fake_lab.snapshots("undercloud") == [outcome.record["name"]]


def test_an_existing_name_is_refused_and_nothing_changes(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    with pytest.raises(SnapshotError, match="exists already"):
        snapshot.create(fake_lab.state, "s1")
    assert fake_lab.snapshots("undercloud") == ["s1"]


def test_a_failure_half_way_removes_the_partial_snapshot_and_resumes_every_domain(fake_lab, monkeypatch):
    real_take = domains.take

    def take(domain, name, with_memory):
        if domain.name().endswith("controller-0"):
            raise RuntimeError("disk full")
        return real_take(domain, name, with_memory)

    monkeypatch.setattr(domains, "take", take)
    with pytest.raises(SnapshotError) as caught:
        snapshot.create(fake_lab.state, "s1")
    message = str(caught.value)
    assert "overcloud-controller-0: disk full" in message
    assert "removed the part already taken from undercloud" in message
    for node in NODES:
        assert fake_lab.snapshots(node) == []
        assert fake_lab.power(node) == RUNNING
    assert not State.load(fake_lab.state.workspace).data.snapshots


def test_a_sigterm_while_taking_waits_until_the_snapshot_is_whole(fake_lab, monkeypatch):
    """A CI system's abort mid-create: the snapshot is finished and recorded, the domains resumed,
    and only then does the interrupt reach the caller."""
    take = domains.take

    def take_and_get_killed(domain, name, with_memory):
        os.kill(os.getpid(), signal.SIGTERM)
        return take(domain, name, with_memory)

    monkeypatch.setattr(
        domains, "parallel", lambda func, items, threads=True: [(func(i), None) for i in items]
    )
    monkeypatch.setattr(domains, "take", take_and_get_killed)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as ffulab's CLI does
    try:
        with pytest.raises(KeyboardInterrupt):
            snapshot.create(fake_lab.state, "s1")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [fake_lab.power(node) for node in NODES] == [RUNNING, RUNNING]
    assert [s["status"] for s in State.load(fake_lab.state.workspace).data.snapshots] == ["complete"]
    assert all(fake_lab.snapshots(node) == ["s1"] for node in NODES)


def test_revert_puts_domains_phases_and_ffu_state_back(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    fake_lab.state.mark_phase("undercloud", "done", seconds=9.0)
    fake_lab.state.update(ffu=FfuRecord(release="2024.2", step=3))
    fake_lab.domain("overcloud-controller-0").destroy()
    fake_lab.ssh.events.clear()

    outcome = snapshot.revert(fake_lab.state, "s1")

    saved = State.load(fake_lab.state.workspace)
    assert "undercloud" not in saved.data.phases, "the phases map is the snapshot's again"
    assert saved.data.ffu == FfuRecord()
    assert saved.data.last_revert["snapshot"] == "s1"
    assert [fake_lab.power(node) for node in NODES] == [RUNNING, RUNNING]
    assert outcome.seconds["usable"] >= outcome.seconds["reverted"]
    assert set(outcome.nodes) == set(NODES)


def test_revert_closes_stale_ssh_masters_first_then_steps_every_clock(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    fake_lab.ssh.events.clear()
    outcome = snapshot.revert(fake_lab.state, "s1")
    kinds = [kind for kind, _ in fake_lab.ssh.events]
    assert kinds[:2] == ["close", "close"] and sorted(kinds[2:]) == ["clock", "clock"]
    assert outcome.nodes["undercloud"]["offset"] == fake_lab.ssh.offset
    assert outcome.nodes["undercloud"]["attempts"] == 1


def test_revert_flushes_neighbours_on_the_labs_own_bridges_only(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    fake_lab.virthost.commands.clear()
    snapshot.revert(fake_lab.state, "s1")
    flushed = [argv[-1] for argv in fake_lab.virthost.commands if argv[:3] == ["ip", "neigh", "flush"]]
    assert sorted(flushed) == sorted(net.bridge for net in fake_lab.layout.networks.values())


def test_in_place_is_tried_first_and_libvirt_revert_is_the_fallback(fake_lab: FakeLab, monkeypatch):
    snapshot.create(fake_lab.state, "s1")
    outcome = snapshot.revert(fake_lab.state, "s1")  # the test driver has no qemu monitor
    assert outcome.nodes["undercloud"]["method"] == domains.RESTART
    assert outcome.nodes["undercloud"]["fallback"]

    loaded = []
    monkeypatch.setattr(domains, "_loadvm", lambda domain, name: loaded.append((domain.name(), name)))
    outcome = snapshot.revert(fake_lab.state, "s1")
    assert outcome.nodes["undercloud"]["method"] == domains.IN_PLACE
    assert sorted(name for _, name in loaded) == ["s1", "s1"]
    assert [fake_lab.power(node) for node in NODES] == [RUNNING, RUNNING]


def test_the_restart_method_never_uses_the_monitor(fake_lab: FakeLab, monkeypatch):
    snapshot.create(fake_lab.state, "s1")
    monkeypatch.setattr(domains, "_loadvm", lambda domain, name: pytest.fail("loadvm used"))
    outcome = snapshot.revert(fake_lab.state, "s1", snapshot.Options(method=domains.RESTART, threads=False))
    assert {facts["method"] for facts in outcome.nodes.values()} == {domains.RESTART}
    assert "fallback" not in outcome.nodes["undercloud"]


def test_a_node_that_was_off_is_off_again_and_not_waited_for(fake_lab: FakeLab):
    fake_lab.domain("overcloud-controller-0").destroy()
    snapshot.create(fake_lab.state, "s1")
    fake_lab.domain("overcloud-controller-0").create()
    fake_lab.ssh.events.clear()
    outcome = snapshot.revert(fake_lab.state, "s1")
    assert fake_lab.power("overcloud-controller-0") == SHUTOFF
    assert outcome.nodes["overcloud-controller-0"]["method"] == domains.DISK_ONLY
    assert ("clock", "overcloud-controller-0") not in fake_lab.ssh.events


def test_a_failed_revert_still_resumes_every_domain_and_says_which_failed(fake_lab, monkeypatch):
    snapshot.create(fake_lab.state, "s1")
    real_revert = domains.revert

    def revert(domain, name, with_memory, method):
        if domain.name().endswith("undercloud"):
            raise RuntimeError("qcow2 corrupt")
        return real_revert(domain, name, with_memory, method)

    monkeypatch.setattr(domains, "revert", revert)
    with pytest.raises(SnapshotError, match="undercloud: qcow2 corrupt"):
        snapshot.revert(fake_lab.state, "s1")
    assert [fake_lab.power(node) for node in NODES] == [RUNNING, RUNNING]
    assert fake_lab.state.data.last_revert is None


def test_reverting_an_unknown_snapshot_is_bad_usage(fake_lab: FakeLab):
    with pytest.raises(NoSuchSnapshot) as caught:
        snapshot.revert(fake_lab.state, "nope")
    assert caught.value.exit_code == 2


def test_delete_removes_it_from_every_domain_and_the_state(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    snapshot.create(fake_lab.state, "s2")
    assert snapshot.delete(fake_lab.state, "s1") == list(NODES)
    assert [fake_lab.snapshots(node) for node in NODES] == [["s2"], ["s2"]]
    assert [r["name"] for r in fake_lab.state.data.snapshots] == ["s2"]


def test_delete_cleans_up_a_snapshot_a_crash_left_half_made(fake_lab: FakeLab):
    domains.take(fake_lab.domain("undercloud"), "half", with_memory=True)
    records.put(fake_lab.state, records.new_record(fake_lab.state, "half", [], auto=False))
    assert snapshot.listing(fake_lab.state)[0]["status"] == "creating"
    with pytest.raises(NoSuchSnapshot):
        snapshot.revert(fake_lab.state, "half")
    assert snapshot.delete(fake_lab.state, "half") == ["undercloud"]
    assert fake_lab.snapshots("undercloud") == []


def test_delete_after_a_killed_create_resumes_the_domains_it_left_paused(fake_lab: FakeLab):
    nodes = [{"name": node, "power": "running"} for node in NODES]
    records.put(fake_lab.state, records.new_record(fake_lab.state, "killed", nodes, auto=False))
    domains.take(fake_lab.domain("undercloud"), "killed", with_memory=True)
    for node in NODES:
        fake_lab.domain(node).suspend()
    lines: list[str] = []
    snapshot.delete(fake_lab.state, "killed", progress=lines.append)
    assert [fake_lab.power(node) for node in NODES] == [RUNNING, RUNNING]
    assert any("left paused by the interrupted create" in line for line in lines)


def test_listing_shows_name_time_phase_and_size(fake_lab: FakeLab):
    snapshot.create(fake_lab.state, "s1")
    snapshot.revert(fake_lab.state, "s1")
    [row] = snapshot.listing(fake_lab.state)
    assert row["name"] == "s1" and row["phase"] == "bmc" and row["time"].endswith("+00:00")
    assert row["vm_state_bytes"] == 2 * VM_STATE_BYTES
    assert row["last_reverted_to"] is True


def test_wait_retries_until_ssh_answers_and_keeps_the_errors(monkeypatch, tmp_path: Path):
    answers = iter([FfulabError("x: ssh: connect to host port 22: No route to host")] * 2 + [0.05])

    def set_clock(workspace, node, timeout=20):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(usable, "set_clock", set_clock)
    monkeypatch.setattr(usable, "RETRY_INTERVAL", 0.01)
    ready = usable.wait_and_set_clock(tmp_path, "undercloud", timeout=5)
    assert ready.attempts == 3 and ready.offset == 0.05
    assert ready.errors == ["x: ssh: connect to host port 22: No route to host"]


def test_set_clock_sends_the_host_time_once_the_guest_is_ready(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(
        usable, "ssh_argv", lambda ws, node, command: ["sh", "-c", 'echo ready; read t; echo "$t"']
    )
    offset = usable.set_clock(tmp_path, "undercloud")
    assert -1 < offset <= 0, "the guest echoes the time it was sent: slightly behind the host"


def test_set_clock_reports_why_ssh_failed(monkeypatch, tmp_path: Path):
    failing = [
        "sh",
        "-c",
        "echo 'ssh: connect to host 192.168.103.2 port 22: No route to host' >&2; exit 255",
    ]
    monkeypatch.setattr(usable, "ssh_argv", lambda ws, node, command: failing)
    with pytest.raises(FfulabError, match=r"undercloud: ssh: connect to host .* No route to host"):
        usable.set_clock(tmp_path, "undercloud")


def test_the_clock_script_steps_the_guest_clock_in_utc():
    assert 'date -u -s "@$t"' in usable.CLOCK_SCRIPT
    assert usable.CLOCK_SCRIPT.startswith("echo ready; read t")
