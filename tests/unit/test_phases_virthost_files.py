"""Where the lab's files are: the image phase records the virthost's copy, provision makes the disks and
console log directory there (through ``on_host``), and an ssh virthost's lab gets a directory of its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from ffulab.image.build import ImageArtifacts
from ffulab.phases import image as image_phase
from ffulab.phases import provision
from ffulab.state import State
from ffulab.virthost import Local


class Staging(Local):
    """A virthost that keeps its copy of the image elsewhere, and runs its commands here."""

    def __init__(self, there: str):
        self.there = there
        self.ran: list[list[str]] = []

    def stage_image(self, image_dir, progress=None):
        return f"{self.there}/{image_dir.name}"

    def on_host(self, argv):
        self.ran.append(list(argv))
        return list(argv)

    def lab_dir(self, workspace, lab_id):
        return f"{self.there}/labs/{lab_id}"


def _ctx(tmp_path: Path, virthost) -> SimpleNamespace:
    state = State.open(tmp_path / "ws", "lab")
    state.update(virthost={"kind": "local", "spec": "local"})
    return SimpleNamespace(
        state=state, workspace=state.workspace, progress=print, virthost=virthost, resolved=None
    )


def test_the_image_phase_records_where_the_virthost_has_the_image(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "d1gest"
    artifacts = ImageArtifacts(
        "d1gest", cache / "disk.qcow2", cache / "vmlinuz", cache / "initrd.img", "6.1", False, 0.0
    )
    virthost = Staging("/remote/images")
    ctx = _ctx(tmp_path, virthost)
    monkeypatch.setattr(image_phase, "ensure_image", lambda recipe, progress: artifacts)
    monkeypatch.setattr(image_phase, "lab_recipe", lambda resolved: None)
    monkeypatch.setattr(image_phase, "lab_virthost", lambda ctx: ctx.virthost)
    image_phase.run(ctx)
    image = ctx.state.data.image
    assert image["disk"] == "/remote/images/d1gest/disk.qcow2"
    assert image["kernel"] == "/remote/images/d1gest/vmlinuz"
    assert image["initrd"] == "/remote/images/d1gest/initrd.img"


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img not installed")
def test_the_overlay_and_console_directory_are_made_on_the_virthost_once(tmp_path):
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1G"], check=True)
    virthost = Staging(str(tmp_path / "remote"))
    ctx = _ctx(tmp_path, virthost)
    disk = tmp_path / "remote" / "labs" / "l1" / "disks" / "undercloud.qcow2"
    logs = tmp_path / "remote" / "labs" / "l1" / "logs" / "console"
    provision._ensure_overlay(ctx, virthost, str(base), str(disk), 4, str(logs))
    assert disk.is_file() and logs.is_dir()
    info = subprocess.run(["qemu-img", "info", str(disk)], capture_output=True, text=True, check=True).stdout
    assert str(base) in info and "4 GiB" in info
    disk.write_bytes(b"kept")  # a rerun keeps what is there
    provision._ensure_overlay(ctx, virthost, str(base), str(disk), 4, str(logs))
    assert disk.read_bytes() == b"kept"
    assert ctx.state.find("file", str(disk)).status == "created"
    assert all(argv[:2] == ["sh", "-c"] for argv in virthost.ran), "qemu-img did not run on the virthost"


def test_an_ssh_virthosts_lab_gets_a_recorded_directory_there_a_local_one_does_not(tmp_path):
    layout = SimpleNamespace(lab_id="lab-1")
    remote = Staging(str(tmp_path / "remote"))
    ctx = _ctx(tmp_path, remote)
    home = provision._ensure_lab_dir(ctx, remote, layout)
    assert home == f"{tmp_path}/remote/labs/lab-1" and Path(home).is_dir()
    assert oct(Path(home).stat().st_mode & 0o777) == "0o711"
    assert ctx.state.find("dir", home).status == "created"

    local_ctx = _ctx(tmp_path / "other", Local())
    assert provision._ensure_lab_dir(local_ctx, Local(), layout) == str(local_ctx.workspace)
    assert local_ctx.state.resources("dir") == []
