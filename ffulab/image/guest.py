"""Make the guest tree: mmdebstrap options, then files from ``rootfs/``, units, no per-host identity.

Everything here is baked into the image, so :func:`fingerprint` feeds the recipe digest: changing a
file under ``rootfs/`` or a unit list below rebuilds the image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ffulab.proc import run

ROOTFS = Path(__file__).with_name("rootfs")
# No docs, man pages or translations in a lab guest: a smaller tree makes mkfs and every clone faster.
MMDEBSTRAP_OPTIONS = (
    "--variant=apt",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
)
# Files copied under these directories of the guest are programs.
EXECUTABLE_DIRS = ("usr/local/sbin",)

ENABLE_UNITS = (
    "systemd-networkd.service",
    "ssh.service",
    "ffulab-firstboot.service",
    "serial-getty@ttyS0.service",
)
# Periodic jobs that only burn TCG time in a short-lived lab guest (or touch disks it does not own).
MASK_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "man-db.timer",
)
# Identity that each clone must make its own, and host files that mmdebstrap copied in.
REMOVE_FILES = ("etc/hostname", "etc/resolv.conf", "var/lib/dbus/machine-id")
HOST_KEY_GLOB = "etc/ssh/ssh_host_*"


def rootfs_files() -> list[Path]:
    """The files under ``rootfs/``, relative to it, in a stable order."""
    return sorted(p.relative_to(ROOTFS) for p in ROOTFS.rglob("*") if p.is_file())


def fingerprint() -> dict[str, object]:
    """What this module bakes into an image, as plain data for the recipe digest."""
    files = {str(rel): hashlib.sha256((ROOTFS / rel).read_bytes()).hexdigest() for rel in rootfs_files()}
    return {
        "files": files,
        "mmdebstrap": list(MMDEBSTRAP_OPTIONS),
        "executable_dirs": list(EXECUTABLE_DIRS),
        "enable": list(ENABLE_UNITS),
        "mask": list(MASK_UNITS),
        "remove": [*REMOVE_FILES, HOST_KEY_GLOB],
    }


def configure(tree: Path) -> None:
    """Configure the guest tree in place, from the host (no Python runs inside the guest)."""
    for rel in rootfs_files():
        dest = tree / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)  # never write through a symlink the tree may hold
        dest.write_bytes((ROOTFS / rel).read_bytes())
        dest.chmod(0o755 if rel.parent.as_posix() in EXECUTABLE_DIRS else 0o644)
    run(["chroot", str(tree), "systemctl", "enable", *ENABLE_UNITS], timeout=120)
    run(["chroot", str(tree), "systemctl", "mask", *MASK_UNITS], timeout=120)
    for rel_name in REMOVE_FILES:
        (tree / rel_name).unlink(missing_ok=True)
    for key in tree.glob(HOST_KEY_GLOB):
        key.unlink()
    # Empty, not absent: systemd then treats the next boot as a first boot and makes a new id.
    (tree / "etc/machine-id").write_text("")
    _lock_root_password(tree / "etc/shadow")


def _lock_root_password(shadow: Path) -> None:
    """Root has no usable password: the only way in is SSH with the lab's key."""
    lines = shadow.read_text().splitlines()
    for i, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == "root":
            fields[1] = "*"
            lines[i] = ":".join(fields)
    shadow.write_text("\n".join(lines) + "\n")
