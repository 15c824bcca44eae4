"""The image cache on disk: one directory per digest, built by one process at a time, never half there.

Layout of ``cache_dir``::

    <digest>/            a finished image (appears by an atomic rename, so it is complete or absent)
    <digest>.lock        flock'd while that digest is being built; kept, so every waiter locks one inode
    .build-<digest>-*/   work dir of a build in progress, or left by a killed one (removed next time)
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ffulab.image.errors import ImageError
from ffulab.proc import run

BUILD_PREFIX = ".build-"
_OCTAL = re.compile(r"\\([0-7]{3})")
# The files of a finished image directory.
DISK, KERNEL, INITRD, MANIFEST = "disk.qcow2", "vmlinuz", "initrd.img", "manifest.json"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ffulab/images``, else ``~/.cache/ffulab/images``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ffulab" / "images"


def is_complete(image_dir: Path) -> bool:
    """All files of a finished image are there (guards against hand-made damage, not races)."""
    return all((image_dir / name).is_file() for name in (DISK, KERNEL, INITRD, MANIFEST))


@contextmanager
def build_lock(cache_dir: Path, digest: str, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the exclusive lock of ``digest``; call ``on_wait`` first if another process holds it."""
    with open(cache_dir / f"{digest}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the process dies


def remove_stale_builds(cache_dir: Path, own_digest: str) -> list[Path]:
    """Remove work dirs left by killed builds; call with ``own_digest``'s lock held. Returns them."""
    removed = []
    for work in sorted(cache_dir.glob(f"{BUILD_PREFIX}*")):
        digest = work.name[len(BUILD_PREFIX) :].split("-", 1)[0]
        if digest == own_digest:
            remove_tree(work)
            removed.append(work)
            continue
        with open(cache_dir / f"{digest}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # that digest is being built right now
            remove_tree(work)
            removed.append(work)
    return removed


def remove_tree(path: Path) -> None:
    """``rm -rf`` that first unmounts what a killed mmdebstrap left mounted inside (/proc, /dev...).

    Without that, deleting the tree could reach into the host's own /dev through a bind mount.
    """
    for mountpoint in sorted(mounts_below(path), reverse=True):
        run(["umount", "--lazy", str(mountpoint)], timeout=60)
    if mounts_below(path):
        raise ImageError("cleanup", f"something is still mounted below {path}; not removing it")
    if path.exists():
        shutil.rmtree(path)


def mounts_below(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points at or below ``path``."""
    root = os.path.realpath(path)
    found = []
    for line in mountinfo.read_text().splitlines():
        # field 5 is the mount point, with space, tab, newline and backslash written as octal escapes
        point = _OCTAL.sub(lambda m: chr(int(m[1], 8)), line.split(" ")[4])
        if point == root or point.startswith(root + "/"):
            found.append(Path(point))
    return found
