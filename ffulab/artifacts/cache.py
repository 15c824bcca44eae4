"""The artifact cache: what lives below ``$XDG_CACHE_HOME/ffulab`` and when an entry is complete.

Layout of the cache (``$XDG_CACHE_HOME/ffulab`` unless given)::

    artifacts/<key>/            a finished artifact: <name>-<version>.squashfs, manifest.json, freeze.txt
    roots/<digest>/             a build root tree (mmdebstrap)
    uv/                         uv's own cache (downloaded and built wheels), shared by every build

``artifacts/`` and ``roots/`` are content-addressed directories of :mod:`ffulab.cache` (lock files,
``.build-*`` work dirs, atomic publish). Every mount a build makes lives in a private mount namespace
that dies with the build (see :mod:`ffulab.artifacts.chroot`), so a killed build leaves a work dir but
never a mount: the cache removes trees without unmounting, and refuses one with a mount below.
"""

from __future__ import annotations

from pathlib import Path

from ffulab.paths import cache_root

MANIFEST = "manifest.json"


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/ffulab`` (else ``~/.cache/ffulab``): artifacts/, roots/ and uv/ live below."""
    return cache_root()


def is_complete(entry: Path) -> bool:
    """A finished entry has its manifest (written last, before the atomic rename)."""
    return (entry / MANIFEST).is_file()
