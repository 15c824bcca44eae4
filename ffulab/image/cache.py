"""The image cache: one directory per recipe digest under ``$XDG_CACHE_HOME/ffulab/images``.

The locking, work dirs and atomic publishing are :mod:`ffulab.cache`'s; an image build runs
mmdebstrap in the host's mount namespace, so its work dirs are cleaned with ``unmount=True``.
"""

from __future__ import annotations

from pathlib import Path

from ffulab.paths import cache_root

# The files of a finished image directory.
DISK, KERNEL, INITRD, MANIFEST = "disk.qcow2", "vmlinuz", "initrd.img", "manifest.json"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ffulab/images``, else ``~/.cache/ffulab/images``."""
    return cache_root() / "images"


def is_complete(image_dir: Path) -> bool:
    """All files of a finished image are there (guards against hand-made damage, not races)."""
    return all((image_dir / name).is_file() for name in (DISK, KERNEL, INITRD, MANIFEST))
