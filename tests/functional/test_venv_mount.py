"""ffulab-lib.sh's ``ffulab_venv``: a venv's squashfs image mounted read-only at its path, once per sha256.

Real mksquashfs, mount, loop devices and fstab, in a private mount namespace of this machine: tmpfs
over /opt and /var/lib and an overlay over /etc whose upper is scratch, so the host's stay untouched. Needs
root and squashfs-tools; a few seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ffulab.paths import data_root

LIB = data_root() / "roles" / "common" / "files" / "ffulab-lib.sh"
FUNCTIONS = (
    "/^ffulab_changed()/p;/^ffulab_now_ms()/p;/^ffulab_time() {/,/^}/p;/^ffulab_step() {/,/^}/p;"
    "/^ffulab_fetch_checked() {/,/^}/p;/^FFULAB_[A-Z_]*=/p;/^ffulab_venv() {/,/^}/p"
)
VENV = "/opt/openstack/probe-1.0"

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root"),
    pytest.mark.skipif(not shutil.which("mksquashfs"), reason="needs squashfs-tools"),
]


def image(tmp_path: Path, name: str, text: str) -> tuple[Path, str]:
    """A venv-like tree (bin/probe printing ``text``) as a squashfs image; with its sha256."""
    tree = tmp_path / f"{name}-tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "probe").write_text(f"#!/bin/sh\necho {text}\n")
    (tree / "bin" / "probe").chmod(0o755)
    out = tmp_path / f"{name}.squashfs"
    subprocess.run(
        ["mksquashfs", str(tree), str(out), "-noappend", "-all-root", "-quiet", "-no-progress"], check=True
    )
    return out, hashlib.sha256(out.read_bytes()).hexdigest()


def in_namespace(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` after the lib's venv functions, in a private mount namespace (see the docstring)."""
    upper, work = tmp_path / "etc-upper", tmp_path / "etc-work"
    upper.mkdir()
    work.mkdir()
    script = f"""set -euo pipefail
mount --make-rprivate /
mount -t tmpfs tmpfs /opt
mount -t tmpfs tmpfs /var/lib
mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc
: > /etc/fstab
source <(sed -n '{FUNCTIONS}' {LIB})
{body}
"""
    return subprocess.run(
        ["unshare", "--mount", "bash", "-c", script], capture_output=True, text=True, timeout=120
    )


def test_the_image_is_mounted_read_only_once_and_listed_in_fstab(tmp_path):
    first, sum1 = image(tmp_path, "one", "first")
    second, sum2 = image(tmp_path, "two", "second")
    result = in_namespace(
        tmp_path,
        f"""
ffulab_venv {first} {sum1} {VENV}; echo "changed=$FFULAB_VENV_CHANGED"
{VENV}/bin/probe
touch {VENV}/written 2>/dev/null && echo writable || echo read-only
ffulab_venv {first} {sum1} {VENV}; echo "changed=$FFULAB_VENV_CHANGED"
ffulab_venv {second} {sum2} {VENV}; echo "changed=$FFULAB_VENV_CHANGED"
{VENV}/bin/probe
umount {VENV}; mount {VENV}; {VENV}/bin/probe
""",
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith("ffulab-step:")]
    assert lines == [
        f"ffulab-changed: {VENV}",
        "changed=1",
        "first",
        "read-only",
        "changed=0",  # the same sha256, mounted: nothing to do
        f"ffulab-changed: {VENV}",
        "changed=1",
        "second",
        "second",  # fstab names the image kept in /var/lib/ffulab/venvs: mount VENV after a reboot
    ]
    assert "ffulab-step: mount /opt/openstack/probe-1.0 " in result.stdout
    assert (tmp_path / "etc-upper" / "fstab").read_text() == (
        f"/var/lib/ffulab/venvs/probe-1.0.squashfs {VENV} squashfs ro,loop,nodev,nosuid 0 0\n"
    )


def test_an_image_without_the_index_sha256_is_refused_and_nothing_is_mounted(tmp_path):
    bad, _sum = image(tmp_path, "bad", "bad")
    result = in_namespace(
        tmp_path,
        f"""
rc=0; ffulab_venv {bad} {"0" * 64} {VENV} || rc=$?
echo "rc=$rc"; mountpoint -q {VENV} && echo mounted || echo "not mounted"
ls -A $FFULAB_VENVS
""",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["rc=1", "not mounted"]
    assert "does not have the sha256 of the mirror's index" in result.stderr
    assert (tmp_path / "etc-upper" / "fstab").read_text() == ""
