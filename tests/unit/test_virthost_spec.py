"""``--virthost`` parsing, the auto choice, and the record a workspace keeps."""

from __future__ import annotations

import pytest

from ffulab.errors import UsageError, VirthostError
from ffulab.virthost import Local, Remote, Sandbox, auto_kind, daemons, from_record, virthost_for
from ffulab.virthost.remote import SSH
from ffulab.virthost.sandbox import NETNS


@pytest.mark.parametrize(
    ("spec", "kind", "uri"),
    [
        ("sandbox", "sandbox", "qemu:///system"),
        ("local", "local", "qemu:///system"),
        ("ssh://stack@lab1", "ssh", "qemu+ssh://stack@lab1/system"),
        ("ssh://lab1", "ssh", "qemu+ssh://lab1/system"),
    ],
)
def test_explicit_specs_select_their_kind(spec, kind, uri):
    virthost = virthost_for(spec)
    assert (virthost.kind, virthost.uri, virthost.spec) == (kind, uri, spec)


@pytest.mark.parametrize(
    "spec", ["kvm", "Sandbox", "ssh://", "ssh://u@h:2222", "ssh://u:pw@h", "ssh://h/x", "qemu:///"]
)
def test_bad_spec_is_a_usage_error_naming_the_flag_and_the_accepted_values(spec):
    with pytest.raises(UsageError) as caught:
        virthost_for(spec)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "--virthost" in message
    assert all(word in message for word in ("auto", "sandbox", "local", "ssh://"))


def _processes(monkeypatch, libvirtds: dict[int, int], own: int = 100, uid: int = 0):
    """Pretend libvirtd pids -> their netns inode; our own netns inode is ``own``."""
    monkeypatch.setattr("os.geteuid", lambda: uid)
    monkeypatch.setattr(daemons, "processes", lambda name: list(libvirtds) if name == "libvirtd" else [])
    monkeypatch.setattr(
        daemons, "netns_inode", lambda pid="self": own if pid == "self" else libvirtds.get(pid)
    )


def test_auto_is_sandbox_for_root_without_libvirtd(monkeypatch):
    _processes(monkeypatch, {})
    assert auto_kind() == "sandbox"
    assert isinstance(virthost_for(None), Sandbox)
    assert isinstance(virthost_for("auto"), Sandbox)


def test_auto_counts_a_libvirtd_in_another_netns_as_the_sandbox(monkeypatch):
    _processes(monkeypatch, {4242: 999})
    assert auto_kind() == "sandbox"


def test_auto_is_local_when_libvirtd_runs_in_our_netns(monkeypatch):
    _processes(monkeypatch, {4242: 999, 4343: 100})
    assert auto_kind() == "local"
    assert isinstance(virthost_for("auto"), Local)


def test_auto_is_local_for_non_root(monkeypatch):
    _processes(monkeypatch, {}, uid=1000)
    assert auto_kind() == "local"


@pytest.mark.parametrize("spec", ["sandbox", "local", "ssh://stack@lab1"])
def test_record_round_trips(spec):
    virthost = virthost_for(spec)
    again = from_record(virthost.to_record())
    assert (type(again), again.to_record()) == (type(virthost), virthost.to_record())


@pytest.mark.parametrize(
    "record", [{}, {"kind": "sandbox"}, {"spec": "bogus"}, {"kind": "local", "spec": "sandbox"}]
)
def test_bad_record_is_a_virthost_error(record):
    with pytest.raises(VirthostError):
        from_record(record)


def test_how_commands_reach_the_lab():
    ipmi = ["ipmitool", "-H", "10.0.0.1"]
    assert Sandbox().wrap(ipmi) == ["ip", "netns", "exec", NETNS, *ipmi]
    assert Sandbox().proxy_command() == f"ip netns exec {NETNS} socat - TCP:%h:%p"
    assert Local().wrap(["true"]) == ["true"]
    assert Local().proxy_command() is None
    remote = Remote("stack@lab1")
    assert remote.wrap(["echo", "a b"]) == [*SSH, "stack@lab1", "echo 'a b'"]
    assert remote.proxy_command() == "ssh -W %h:%p stack@lab1"
