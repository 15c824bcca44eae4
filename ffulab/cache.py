"""Content-addressed cache entries: one directory per key, made by one process at a time, never half there.

Layout of a cache directory (the image cache, ``artifacts/``, ``roots/``)::

    <key>/            a finished entry (appears by an atomic rename, so it is complete or absent)
    <key>.lock        flock'd while that key is built; kept, so every waiter locks one inode
    .build-<key>-*/   work dir of a build in progress, or left by a killed one (removed next time)

Keys are hex digests, so the key of a work dir is what lies between ``.build-`` and the next '-'.
What makes an entry complete, and where the cache lives, is for each user to say (``image/cache.py``,
``artifacts/cache.py``).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ffulab.errors import CacheError
from ffulab.proc import run

BUILD_PREFIX = ".build-"
_OCTAL = re.compile(r"\\([0-7]{3})")


@contextmanager
def key_lock(directory: Path, key: str, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Hold the exclusive lock of ``key`` in ``directory``; call ``on_wait`` first if another holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{key}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also when the process is killed


@contextmanager
def building(
    directory: Path,
    key: str,
    *,
    unmount: bool = False,
    on_stale: Callable[[Path], None] = lambda path: None,
) -> Iterator[Path]:
    """A fresh work dir for ``key`` (call with its lock held); removed afterwards, whatever happens.

    Work dirs that killed builds left behind are removed first (see :func:`remove_stale`), each
    passed to ``on_stale``. Publish the result from inside the block with :func:`publish`.
    ``unmount`` as for :func:`remove_tree`.
    """
    for stale in remove_stale(directory, key, unmount=unmount):
        on_stale(stale)
    work = Path(tempfile.mkdtemp(prefix=f"{BUILD_PREFIX}{key}-", dir=directory))
    try:
        yield work
    finally:
        remove_tree(work, unmount=unmount)


def publish(ready: Path, directory: Path, key: str, *, unmount: bool = False) -> Path:
    """Move a finished entry into place by one rename; an incomplete leftover there is removed first."""
    final = directory / key
    remove_tree(final, unmount=unmount)
    ready.rename(final)
    return final


def remove_stale(directory: Path, own_key: str, *, unmount: bool = False) -> list[Path]:
    """Remove work dirs of killed builds: ``own_key``'s (its lock is held) and others' whose lock is free."""
    removed = []
    for work in sorted(directory.glob(f"{BUILD_PREFIX}*")):
        key = work.name[len(BUILD_PREFIX) :].split("-", 1)[0]
        if key == own_key:
            remove_tree(work, unmount=unmount)
            removed.append(work)
            continue
        with open(directory / f"{key}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being built right now
            remove_tree(work, unmount=unmount)
            removed.append(work)
    return removed


def remove_tree(path: Path, unmount: bool = False) -> None:
    """``rm -rf`` that never reaches through a mount point into what is mounted there.

    With ``unmount``, what is mounted below is first unmounted (lazily, deepest first): what a killed
    mmdebstrap leaves (/proc, /dev...). Without it, or if something stays mounted, a CacheError.
    """
    if not path.exists():
        return
    if unmount:
        for mountpoint in sorted(mounts_below(path), reverse=True):
            run(["umount", "--lazy", str(mountpoint)], timeout=60)
    mounted = mounts_below(path)
    if mounted:
        still = "still " if unmount else ""
        raise CacheError(
            "cleanup", f"{mounted[0]} is {still}mounted below {path}; not removing it", f"umount {mounted[0]}"
        )
    shutil.rmtree(path)


def mounts_below(path: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points at or below ``path`` in this process's mount namespace."""
    root = os.path.realpath(path)
    found = []
    for line in mountinfo.read_text().splitlines():
        # field 5 is the mount point, with space, tab, newline and backslash written as octal escapes
        point = _OCTAL.sub(lambda m: chr(int(m[1], 8)), line.split(" ")[4])
        if point == root or point.startswith(root + "/"):
            found.append(Path(point))
    return found
