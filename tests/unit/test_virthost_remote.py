"""The ssh virthost's files on the remote, with "the remote" being this machine (``on_host`` runs locally)
and ``REMOTE_ROOT`` a temporary directory: the same shell scripts run as they would over ssh."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ffulab.errors import VirthostError
from ffulab.virthost import daemons
from ffulab.virthost import remote as remote_module
from ffulab.virthost.remote import Remote
from ffulab.virthost.sandbox import Sandbox


class HereRemote(Remote):
    """A Remote whose commands run on this machine instead of over ssh."""

    def on_host(self, argv: list[str]) -> list[str]:
        return list(argv)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "remote-root"
    monkeypatch.setattr(remote_module, "REMOTE_ROOT", str(root))
    return root


@pytest.fixture
def host(root: Path) -> HereRemote:
    return HereRemote("stack@lab1")


def _image(tmp_path: Path) -> Path:
    image = tmp_path / "cache" / ("ab" * 32)
    image.mkdir(parents=True)
    for name, data in (("disk.qcow2", b"disk" * 1000), ("vmlinuz", b"kernel"), ("manifest.json", b"{}")):
        (image / name).write_bytes(data)
    return image


def test_the_image_is_copied_once_and_whole(host, root, tmp_path, monkeypatch):
    image = _image(tmp_path)
    lines: list[str] = []
    there = host.stage_image(image, lines.append)
    assert there == f"{root}/images/{image.name}"
    assert sorted(p.name for p in Path(there).iterdir()) == ["disk.qcow2", "manifest.json", "vmlinuz"]
    assert (Path(there) / "disk.qcow2").read_bytes() == b"disk" * 1000
    assert any("copying" in line for line in lines)
    assert not list((root / "images").glob("*.part.*")), "the unpacking directory is left"
    sent = []
    monkeypatch.setattr(remote_module, "send_files", lambda *args, **kw: sent.append(args))
    assert host.stage_image(image) == there
    assert sent == [], "an image already on the remote is sent again"


def test_only_missing_artifacts_are_sent_and_each_is_checked(host, root, tmp_path):
    files = {}
    for data in (b"one", b"two"):
        path = tmp_path / data.decode()
        path.write_bytes(data)
        files[hashlib.sha256(data).hexdigest()] = path
    store = host.stage_files(files)
    assert sorted(p.name for p in Path(store).iterdir()) == sorted(files)
    lines: list[str] = []
    host.stage_files(files, lines.append)
    assert lines == [], "artifacts already in the store are sent again"
    bad = tmp_path / "bad"
    bad.write_bytes(b"not what its name says")
    with pytest.raises(VirthostError, match="copying artifacts"):
        host.stage_files({"0" * 64: bad})
    assert not (Path(store) / ("0" * 64)).exists()
    assert [p.name for p in Path(store).iterdir() if p.name.startswith(".")] == []


def test_the_remote_is_cleaned_when_the_last_lab_leaves(host, root, tmp_path):
    host._make_directory()
    first, second, gone = (tmp_path / name for name in ("first", "second", "gone"))
    for workspace in (first, second, gone):
        workspace.mkdir()
        (workspace / "state.json").write_text("{}")
        host.register(workspace)
    (gone / "state.json").unlink()  # this client's lab whose workspace is gone no longer counts
    (root / "users" / "elsewhere").write_text("otherclient:/home/x/ws\n")  # another client's lab does
    (root / "images" / "digest").mkdir(parents=True)
    kept = host.teardown_if_unused(leaving=first)
    assert kept and "kept" in kept[0] and str(second) in kept[0] and "otherclient" in kept[0]
    (root / "users" / "elsewhere").unlink()
    (root / "labs" / "lab-1").mkdir(parents=True)
    kept = host.teardown_if_unused(leaving=second)
    assert "lab directories lab-1" in kept[0]
    (root / "labs" / "lab-1").rmdir()
    done = host.teardown_if_unused(leaving=second)
    assert done and done[0].startswith("removed ffulab's files")
    assert not root.exists()
    assert host.teardown_if_unused() == []


def test_register_before_prepare_notes_nothing_and_makes_nothing(host, root, tmp_path):
    host.register(tmp_path)  # prepare makes the directory (0755, for qemu); the phase registers again
    assert not root.exists()
    Remote("nobody@host.invalid").register(tmp_path)  # a remote that does not answer is no error here
    host._make_directory()
    assert oct(root.stat().st_mode & 0o777) == "0o755"
    host.register(tmp_path)
    assert [p.read_text() for p in (root / "users").iterdir()] == [f"{remote_module._client()}:{tmp_path}\n"]


@pytest.mark.parametrize("path", ["/etc/passwd", "{root}/../x", "{root}//x", "{root}"])
def test_remove_refuses_anything_outside_its_directory(host, root, path):
    with pytest.raises(VirthostError, match="refusing"):
        host.remove(path.format(root=root), tree=True)


def test_remove_a_lab_directory(host, root):
    lab = root / "labs" / "lab-1"
    (lab / "disks").mkdir(parents=True)
    host.remove(str(lab), tree=True)
    host.remove(str(lab), tree=True)  # gone already is fine
    assert not lab.exists()


def test_vbmc_is_found_in_the_users_local_bin_or_named_with_its_fix(host, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(VirthostError) as missing:
        host.tool("vbmcd")
    assert "pipx install virtualbmc" in str(missing.value) and "ssh -t stack@lab1" in str(missing.value)
    tool = tmp_path / ".local" / "bin" / "vbmcd"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert host.tool("vbmcd") == str(tool)


def test_prepare_makes_its_directory(host, root):
    assert "no directory" in host._directory_missing()
    assert host._make_directory() == [f"created stack@lab1:{root}"]
    assert host._directory_missing() is None


def test_lab_files_live_below_the_remote_directory(host, root):
    assert host.lab_dir(Path("/home/u/ws"), "minimal-abc123") == f"{root}/labs/minimal-abc123"
    assert Sandbox().lab_dir(Path("/home/u/ws"), "minimal-abc123") == "/home/u/ws"
    assert not host.lab_reachable_here and Sandbox().lab_reachable_here
    assert host.host_uri == "qemu:///system" and host.uri == "qemu+ssh://stack@lab1/system"


def test_a_libvirtd_with_a_run_libvirt_of_its_own_is_no_stranger_to_the_sandbox(monkeypatch):
    """The ssh virthost's functional test runs a libvirtd in private mount and network namespaces."""
    sandbox = Sandbox()
    monkeypatch.setattr(sandbox.pidfile, "load", dict)
    monkeypatch.setattr(daemons, "processes", lambda name: [4242])
    monkeypatch.setattr(daemons, "sees_same", lambda pid, path="/run/libvirt": False)
    assert sandbox._strangers() is None
    monkeypatch.setattr(daemons, "sees_same", lambda pid, path="/run/libvirt": True)
    assert "4242" in sandbox._strangers()


def test_sees_same_compares_what_the_process_sees(tmp_path):
    import os

    assert daemons.sees_same(os.getpid(), str(tmp_path))
    assert daemons.sees_same(999_999_999, str(tmp_path)), "unknown is taken as the same (refuse, not share)"
