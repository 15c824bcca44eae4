"""ffulab-lib.sh's ffulab_venv: the services' parts of a deploy list their venvs in fstab side by side.

Seen on a compute lab's controller: five parts each edited /etc/fstab (``sed -i`` replaces the file), an
entry appended meanwhile was lost and glance's ``mount VENV`` found none. Here the function runs in bash
with ``mount``, ``mountpoint`` and ``umount`` replaced by functions, several venvs at once.
"""

from __future__ import annotations

import hashlib
import subprocess

from ffulab.paths import data_root

LIB = data_root() / "roles" / "common" / "files" / "ffulab-lib.sh"
FUNCTIONS = (
    "/^ffulab_changed()/p;/^ffulab_now_ms()/p;/^ffulab_step() {/,/^}/p;/^ffulab_time() {/,/^}/p;"
    "/^ffulab_fetch_checked() {/,/^}/p;/^FFULAB_VENVS=/,/^FFULAB_VENV_MOUNT=/p;/^ffulab_venv() {/,/^}/p"
)
VENVS = 8


def run_parallel(tmp_path) -> tuple[subprocess.CompletedProcess[str], str, list[str]]:
    image = tmp_path / "venv.squashfs"
    image.write_bytes(b"squashfs")
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    fstab, mounts = tmp_path / "fstab", tmp_path / "mounts"
    fstab.write_text("UUID=1 / ext4 defaults 0 1\n")
    mounts.touch()
    script = f"""set -euo pipefail
FFULAB_FSTAB={fstab} FFULAB_FSTAB_LOCK={tmp_path}/fstab.lock
source <(sed -n '{FUNCTIONS}' {LIB})
FFULAB_VENVS={tmp_path}/venvs
mountpoint() {{ return 1; }}
umount() {{ return 0; }}
mount() {{ echo "$*" >> {mounts}; }}
for i in $(seq 1 {VENVS}); do
    ffulab_venv {image} {digest} {tmp_path}/opt/svc$i-1.0 > /dev/null &
done
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
exit $failed
"""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False, timeout=60)
    return result, fstab.read_text(), mounts.read_text().splitlines()


def test_venvs_listed_side_by_side_are_all_in_fstab_and_mounted_without_reading_it(tmp_path):
    result, fstab, mounts = run_parallel(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = fstab.splitlines()
    assert lines[0] == "UUID=1 / ext4 defaults 0 1", "the rest of fstab is left alone"
    assert sorted(lines[1:]) == sorted(
        f"{tmp_path}/venvs/svc{i}-1.0.squashfs {tmp_path}/opt/svc{i}-1.0 squashfs ro,loop,nodev,nosuid 0 0"
        for i in range(1, VENVS + 1)
    )
    assert sorted(mounts) == sorted(
        f"-t squashfs -o ro,loop,nodev,nosuid {tmp_path}/venvs/svc{i}-1.0.squashfs {tmp_path}/opt/svc{i}-1.0"
        for i in range(1, VENVS + 1)
    )


def test_a_venv_listed_again_replaces_its_entry(tmp_path):
    run_parallel(tmp_path)
    result, fstab, _ = run_parallel(tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(fstab.splitlines()) == VENVS + 1
