"""``ffulab destroy``: only libvirt's "no such domain / network" means gone; any other error keeps the record.

The lab's libvirt is the ``test:///default`` driver (real error codes for objects that do not exist); a
proxy in front of it fails lookups with another code, as a libvirtd that went away or refuses would.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt")

from ffulab import cli  # noqa: E402
from ffulab.commands import destroy as destroy_module  # noqa: E402
from ffulab.errors import FfulabError  # noqa: E402
from ffulab.state import State  # noqa: E402

DOMAIN_XML = """<domain type='test'><name>{name}</name><memory>65536</memory>
<os><type>hvm</type></os></domain>"""


def libvirt_error(code: int, message: str) -> libvirt.libvirtError:
    error = libvirt.libvirtError(message)
    error.err = (code, libvirt.VIR_FROM_RPC, message, libvirt.VIR_ERR_ERROR, None, None, None, 0, 0)
    return error


class FailingLookups:
    """A libvirt connection whose lookups of ``names`` fail with ``code``; the rest is the real one."""

    def __init__(self, conn, names: set[str], code: int):
        self._conn, self._names, self._code = conn, names, code

    def __getattr__(self, attr):
        return getattr(self._conn, attr)

    def _lookup(self, real, name):
        if name in self._names:
            raise libvirt_error(self._code, f"internal error: cannot look up '{name}' (connection reset)")
        return real(name)

    def lookupByName(self, name):
        return DriverDomain(self._lookup(self._conn.lookupByName, name))

    def networkLookupByName(self, name):
        return self._lookup(self._conn.networkLookupByName, name)


class DriverDomain:
    """The test driver's domain, whose undefine takes none of the flags qemu's does."""

    def __init__(self, domain):
        self._domain = domain

    def __getattr__(self, attr):
        return getattr(self._domain, attr)

    def undefineFlags(self, flags):
        return self._domain.undefine()


class FakeVirthost:
    uri = "test:///default"

    def __init__(self, calls: list[str] | None = None):
        self.calls = calls if calls is not None else []

    def start(self, progress=None):
        self.calls.append("start")
        return ["started libvirtd (pid 1) in netns test"]

    def teardown_if_unused(self, conn_uri=None, leaving=None):
        return []


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A lab recording a network and two domains on a private test driver; returns (workspace, conn)."""
    conn = libvirt.open("test:///default")
    suffix = uuid.uuid4().hex[:12]  # test:///default is one driver for the whole process
    names = {"domain": [f"gone-{suffix}", f"kept-{suffix}"], "network": [f"net-{suffix}"]}
    conn.defineXML(DOMAIN_XML.format(name=names["domain"][1]))
    workspace = tmp_path / "ws"
    state = State.open(workspace, "lab")
    state.update(virthost={"kind": "test", "spec": "test"})
    for kind in ("network", "domain"):
        for name in names[kind]:
            with state.creating(kind, name):
                pass
    calls: list[str] = []
    monkeypatch.setattr(destroy_module, "lab_virthost", lambda _state: FakeVirthost(calls))
    failing: dict[str, object] = {"names": set(), "code": libvirt.VIR_ERR_INTERNAL_ERROR, "calls": calls}

    @contextmanager
    def open_lab_libvirt(uri, readonly=False):
        calls.append("open")
        yield FailingLookups(conn, failing["names"], failing["code"])

    monkeypatch.setattr(destroy_module, "libvirt_open", open_lab_libvirt)
    yield workspace, conn, names, failing
    conn.close()


def test_an_object_libvirt_does_not_know_is_gone_and_forgotten(lab):
    workspace, conn, names, _ = lab
    removed = destroy_module.destroy(workspace, progress=lambda _line: None)
    assert {f"domain {n}" for n in names["domain"]} | {f"network {n}" for n in names["network"]} <= set(
        removed
    )
    assert names["domain"][1] not in conn.listDefinedDomains(), "the existing domain is undefined"
    assert not (workspace / "state.json").exists(), "every record forgotten: the state goes"


def test_the_virthost_is_started_before_libvirt_is_asked(lab):
    """After a reboot the sandbox's libvirtd is gone but its domains stay defined: destroy starts it."""
    workspace, _conn, _names, failing = lab
    lines: list[str] = []
    destroy_module.destroy(workspace, progress=lines.append)
    assert failing["calls"][:2] == ["start", "open"]
    assert "started libvirtd (pid 1) in netns test" in lines


@pytest.mark.parametrize(
    "code",
    ["VIR_ERR_INTERNAL_ERROR", "VIR_ERR_SYSTEM_ERROR", "VIR_ERR_OPERATION_DENIED", "VIR_ERR_NO_CONNECT"],
)
def test_any_other_lookup_error_keeps_the_record_and_names_the_domain(lab, code):
    workspace, conn, names, failing = lab
    kept = names["domain"][1]
    failing["names"].add(kept)
    failing["code"] = getattr(libvirt, code)
    with pytest.raises(FfulabError) as raised:
        destroy_module.destroy(workspace, progress=lambda _line: None)
    assert raised.value.exit_code == 1
    assert f"domain {kept}" in str(raised.value)
    state = State.load(workspace)
    assert state.find("domain", kept), "the domain libvirt could not look up stays recorded"
    assert state.find("network", names["network"][0]), "and so does everything recorded before it"
    assert kept in conn.listDefinedDomains(), "nothing was taken for gone"


def test_a_network_lookup_error_keeps_the_record_and_names_the_network(lab):
    workspace, _conn, names, failing = lab
    network = names["network"][0]
    failing["names"].add(network)
    with pytest.raises(FfulabError, match=f"network {network}"):
        destroy_module.destroy(workspace, progress=lambda _line: None)
    assert State.load(workspace).find("network", network)


def test_the_command_exits_1_naming_the_resource(lab, capsys):
    workspace, _conn, names, failing = lab
    failing["names"].add(names["domain"][1])
    assert cli.main(["destroy", "-w", str(workspace)]) == 1
    err = capsys.readouterr().err
    assert f"domain {names['domain'][1]}" in err
    assert "Traceback" not in err


def test_a_remote_lab_directory_and_its_disks_go_through_the_virthost(tmp_path, monkeypatch):
    """An ssh virthost's lab keeps its disks and its directory on the remote: removed there, newest
    first; a record pointing outside ffulab's directory there is refused and stays."""
    from ffulab.virthost import remote as remote_module

    root = tmp_path / "remote"
    monkeypatch.setattr(remote_module, "REMOTE_ROOT", str(root))

    class HereRemote(remote_module.Remote):
        def on_host(self, argv):
            return list(argv)

        def teardown_if_unused(self, conn_uri=None, leaving=None):
            return []

    lab_dir = root / "labs" / "lab-1"
    (lab_dir / "disks").mkdir(parents=True)
    (lab_dir / "disks" / "undercloud.qcow2").write_text("disk")
    (lab_dir / "logs").mkdir()
    outside = tmp_path / "not-ffulab.qcow2"
    outside.write_text("someone's")
    workspace = tmp_path / "ws"
    state = State.open(workspace, "lab")
    state.update(virthost={"kind": "ssh", "spec": "ssh://lab1"})
    for kind, name in (("file", outside), ("dir", lab_dir), ("file", lab_dir / "disks" / "undercloud.qcow2")):
        with state.creating(kind, str(name)):
            pass
    monkeypatch.setattr(destroy_module, "lab_virthost", lambda _state: HereRemote("lab1"))

    @contextmanager
    def no_libvirt(uri, readonly=False):
        yield None

    monkeypatch.setattr(destroy_module, "libvirt_open", no_libvirt)
    with pytest.raises(FfulabError, match=f"file {outside}.*refusing"):
        destroy_module.destroy(workspace, progress=lambda _line: None)
    assert not lab_dir.exists(), "the lab's directory and its disk were removed"
    assert outside.exists()
    assert [r.name for r in State.load(workspace).resources()] == [str(outside)]
