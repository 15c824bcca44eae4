"""The lab's SSH ControlMaster sockets live in a directory only the user can enter, never in /tmp."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ffulab.config.resolve import resolve
from ffulab.errors import FfulabError
from ffulab.provision import access
from ffulab.provision.layout import Layout, allocate_subnets, build_layout, lab_id_for


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    config = resolve(nodes="1ctlr_1comp").config
    return build_layout(config, lab_id_for(config.lab.name, tmp_path / "ws"), allocate_subnets([]))


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path, as a runtime directory has (a socket path is at most 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ffl-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture(autouse=True)
def _no_runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither $XDG_RUNTIME_DIR nor /run/user/UID unless a test gives one."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(access, "RUN_USER", tmp_path / "no-run-user", raising=False)


def control_paths(workspace: Path, layout: Layout) -> set[str]:
    text = access.write_ssh_config(workspace, layout, None).read_text()
    return {line.split(None, 1)[1] for line in text.splitlines() if line.strip().startswith("ControlPath ")}


def assert_private_dir(directory: Path) -> None:
    info = directory.lstat()
    assert stat.S_ISDIR(info.st_mode), f"{directory} is not a directory"
    assert info.st_uid == os.geteuid(), f"{directory} belongs to uid {info.st_uid}"
    assert stat.S_IMODE(info.st_mode) == 0o700, f"{directory} has mode {oct(stat.S_IMODE(info.st_mode))}"


def test_the_control_path_is_in_a_0700_directory_of_the_user_not_tmp(layout, tmp_path):
    (path,) = control_paths(tmp_path, layout)
    directory = Path(path).parent
    assert directory != Path("/tmp") and not path.startswith("/tmp/ffulab-"), path
    assert directory == Path.home() / ".ffulab" / ".cm"
    assert_private_dir(directory)
    assert Path(path).name == f"{layout.lab_id[-6:]}-%h", "one socket per lab and node, named by both"


def test_a_private_runtime_dir_is_preferred(layout, tmp_path, monkeypatch, short_dir):
    runtime = short_dir / "1000"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    (path,) = control_paths(tmp_path, layout)
    assert Path(path).parent == runtime / "ffulab"
    assert_private_dir(runtime / "ffulab")


def test_run_user_uid_is_used_when_it_exists(layout, tmp_path, monkeypatch, short_dir):
    run_user = short_dir / "user"
    (run_user / str(os.geteuid())).mkdir(parents=True, mode=0o700)
    monkeypatch.setattr(access, "RUN_USER", run_user)
    (path,) = control_paths(tmp_path, layout)
    assert Path(path).parent == run_user / str(os.geteuid()) / "ffulab"


def test_a_runtime_dir_others_can_write_is_not_used(layout, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    (path,) = control_paths(tmp_path, layout)
    assert Path(path).parent == Path.home() / ".ffulab" / ".cm"


def test_a_control_dir_left_open_is_closed_again(layout, tmp_path):
    directory = Path.home() / ".ffulab" / ".cm"
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    control_paths(tmp_path, layout)
    assert_private_dir(directory)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the ssh client")
def test_every_socket_path_fits_a_unix_socket_with_sshs_suffix(layout, tmp_path):
    """ssh binds ``<ControlPath>.<16 random chars>`` first: that must fit sun_path (107 bytes and a NUL)."""
    config = access.write_ssh_config(tmp_path, layout, None)
    for node in layout.nodes:
        shown = subprocess.run(
            ["ssh", "-G", "-F", str(config), node.name], capture_output=True, text=True, check=True
        ).stdout
        (expanded,) = [
            line.split(None, 1)[1] for line in shown.splitlines() if line.startswith("controlpath ")
        ]
        assert expanded == str(Path.home() / ".ffulab" / ".cm" / f"{layout.lab_id[-6:]}-{node.ctlplane_ip}")
        assert len(expanded.encode()) + 17 <= 107, expanded


def test_a_path_too_long_for_a_socket_is_refused_naming_it(layout, tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60)
    deep.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    with pytest.raises(FfulabError, match="more than a unix socket takes"):
        access.write_ssh_config(tmp_path, layout, None)


def _fake_ssh(*args: str) -> subprocess.Popen:
    """A process whose argv reads ``ssh ARGS...`` (Python sleeping under that name)."""
    code = "import time; time.sleep(60)"
    return subprocess.Popen(["ssh", "-c", code, *args], executable=sys.executable)


def _only_ours_stopped(tmp_path: Path, layout, ours: subprocess.Popen, other: subprocess.Popen) -> None:
    """Closing the lab's masters SIGTERMs ``ours`` and leaves ``other`` (another lab's) running."""
    try:
        access.close_masters(tmp_path, [node.name for node in layout.nodes])
        assert ours.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None, "another lab's proxy is left alone"
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait()


def test_closing_the_masters_stops_the_ssh_virthosts_proxies_of_this_lab_only(
    layout, tmp_path, short_dir, monkeypatch
):
    """An ssh virthost's undercloud master rides on ``ssh -W <undercloud>:22 <virthost>``, which outlives
    the master when the node goes right after (destroy, revert): closing the masters stops it."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    access.write_ssh_config(tmp_path, layout, "ssh -W %h:%p root@virthost.example")
    undercloud = next(node for node in layout.nodes if node.undercloud)
    ours = _fake_ssh("-W", f"{undercloud.ctlplane_ip}:22", "root@virthost.example")
    _only_ours_stopped(tmp_path, layout, ours, _fake_ssh("-W", "203.0.113.9:22", "root@virthost.example"))


def test_closing_the_masters_stops_the_proxyjump_proxies_of_this_lab_only(
    layout, tmp_path, short_dir, monkeypatch
):
    """An overcloud node's master rides on the ``ssh -F <config> -W [node]:22 undercloud`` ProxyJump starts;
    left after its master, it waited on a destroyed undercloud for good (a kept lab's --reuse run)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_dir))
    config = access.write_ssh_config(tmp_path, layout, None)
    node = next(node for node in layout.nodes if not node.undercloud)
    ours = _fake_ssh("-F", str(config), "-W", f"[{node.ctlplane_ip}]:22", "undercloud")
    elsewhere = str(tmp_path / "other" / config.name)
    _only_ours_stopped(
        tmp_path, layout, ours, _fake_ssh("-F", elsewhere, "-W", f"[{node.ctlplane_ip}]:22", "undercloud")
    )
