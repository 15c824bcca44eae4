"""The artifact cache on disk: one directory per content key, made by one process at a time, never half there.

Layout of the cache (``$XDG_CACHE_HOME/ffulab`` unless given)::

    artifacts/<key>/            a finished artifact: <name>-<version>.tar.zst, manifest.json, freeze.txt
    artifacts/<key>.lock        flock'd while that key is built; kept, so every waiter locks one inode
    artifacts/.build-<key>-*/   work dir of a build in progress, or left by a killed one (removed next time)
    roots/<digest>/             a build root tree (mmdebstrap), same rules
    uv/                         uv's own cache (downloaded and built wheels), shared by every build

Every mount a build makes lives in a private mount namespace that dies with the build (see
:mod:`ffulab.artifacts.chroot`), so a killed build leaves a work dir but never a mount.
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

from ffulab.artifacts.errors import ArtifactError
from ffulab.paths import cache_root

BUILD_PREFIX = ".build-"
MANIFEST = "manifest.json"
_OCTAL = re.compile(r"\\([0-7]{3})")


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/ffulab`` (else ``~/.cache/ffulab``): artifacts/, roots/ and uv/ live below."""
    return cache_root()


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


def is_complete(entry: Path) -> bool:
    """A finished entry has its manifest (written last, before the atomic rename)."""
    return (entry / MANIFEST).is_file()


@contextmanager
def building(directory: Path, key: str) -> Iterator[Path]:
    """A fresh work dir for ``key`` (call with its lock held); removed afterwards, whatever happens.

    Work dirs that killed builds left behind are removed first: theirs, and any other key's whose
    lock is free. Publish the result from inside the block with :func:`publish`.
    """
    remove_stale(directory, key)
    work = Path(tempfile.mkdtemp(prefix=f"{BUILD_PREFIX}{key}-", dir=directory))
    try:
        yield work
    finally:
        remove_tree(work)


def publish(ready: Path, directory: Path, key: str) -> Path:
    """Move a finished entry into place by one rename; an incomplete leftover there is removed first."""
    final = directory / key
    if final.exists():
        remove_tree(final)
    ready.rename(final)
    return final


def remove_stale(directory: Path, own_key: str) -> list[Path]:
    """Remove work dirs of killed builds: ``own_key``'s (its lock is held) and others' whose lock is free."""
    removed = []
    for work in sorted(directory.glob(f"{BUILD_PREFIX}*")):
        key = work.name[len(BUILD_PREFIX) :].rsplit("-", 1)[0]
        if key == own_key:
            remove_tree(work)
            removed.append(work)
            continue
        with open(directory / f"{key}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being built right now
            remove_tree(work)
            removed.append(work)
    return removed


def remove_tree(path: Path) -> None:
    """``rm -rf``, refusing when anything is mounted below (it would reach into what is mounted)."""
    if not path.exists():
        return
    mounted = mounts_below(path)
    if mounted:
        raise ArtifactError(
            "cleanup", f"{mounted[0]} is mounted below {path}; not removing it", f"umount {mounted[0]}"
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
