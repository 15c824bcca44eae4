"""Build the base guest image once per recipe digest: mmdebstrap -> configure -> ext4 -> qcow2.

The result is a directory of the image cache (see :mod:`ffulab.image.cache`) holding ``disk.qcow2``
(one ext4, no partition table), ``vmlinuz`` and ``initrd.img`` for direct kernel boot, and
``manifest.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ffulab
from ffulab.cache import building, key_lock, publish
from ffulab.errors import ImageError
from ffulab.image import guest
from ffulab.image.cache import DISK, INITRD, KERNEL, MANIFEST, default_cache_dir, is_complete
from ffulab.image.recipe import BUILD_FORMAT, ImageRecipe
from ffulab.proc import run

GIB = 1024**3
MIB = 1024**2
# Changing these changes the image: bump recipe.BUILD_FORMAT with them.
MKFS_OPTIONS = ("-q", "-F", "-L", "ffulab-root", "-m", "1")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ImageArtifacts:
    """A finished image in the cache; ``built`` tells whether this call built it, in ``seconds``."""

    digest: str
    disk: Path
    kernel: Path
    initrd: Path
    kernel_version: str
    built: bool
    seconds: float


def ensure_image(
    recipe: ImageRecipe, cache_dir: Path | None = None, progress: Progress | None = None
) -> ImageArtifacts:
    """Return the cached image of ``recipe``, building it first if no process has yet.

    Concurrent callers serialise on a per-digest lock: the second waits, then finds the image cached.
    """
    started = time.monotonic()
    say = progress or (lambda _line: None)
    cache = cache_dir or default_cache_dir()
    digest = recipe.digest()
    image_dir = cache / digest
    built = False
    if not is_complete(image_dir):
        with key_lock(cache, digest, lambda: say(f"image {digest[:12]}: waiting for another build of it")):
            if not is_complete(image_dir):
                _build(recipe, digest, cache, say)
                built = True
    artifacts = _artifacts(image_dir, built, time.monotonic() - started)
    say(f"image {digest[:12]}: {'built' if built else 'cached'}, {image_dir} ({artifacts.seconds:.1f} s)")
    return artifacts


def _build(recipe: ImageRecipe, digest: str, cache: Path, say: Progress) -> None:
    """Build into a work dir of the cache, then rename it into place; with the digest's lock held.

    mmdebstrap mounts /proc, /dev... in the host's namespace: a killed build leaves them mounted in
    its work dir, so work dirs are unmounted before they are removed.
    """
    if os.geteuid() != 0:
        raise ImageError("build", "needs root (mmdebstrap, chroot, and mkfs.ext4 -d keeping file owners)")
    with building(
        cache,
        digest,
        unmount=True,
        on_stale=lambda stale: say(f"removed {stale.name}, left by an interrupted build"),
    ) as work:
        out = work / "image"
        out.mkdir()
        _build_into(recipe, digest, work, out, say)
        publish(out, cache, digest, unmount=True)  # replaces an incomplete image dir, damaged by hand


def _build_into(recipe: ImageRecipe, digest: str, work: Path, out: Path, say: Progress) -> None:
    started = time.monotonic()
    seconds: dict[str, float] = {}
    tree, raw = work / "tree", work / "root.img"

    say(f"mmdebstrap: {recipe.suite}, {len(recipe.packages)} packages from {recipe.mirror}")
    mark = time.monotonic()
    run(
        [
            "mmdebstrap",
            *guest.MMDEBSTRAP_OPTIONS,
            f"--include={','.join(recipe.packages)}",
            recipe.suite,
            str(tree),
            recipe.mirror,
        ],
        timeout=1800,
    )
    seconds["mmdebstrap"] = _since(mark)
    say(f"mmdebstrap: {seconds['mmdebstrap']:.0f} s")

    mark = time.monotonic()
    guest.configure(tree)
    kernel_version = _copy_boot_files(tree, out)
    seconds["configure"] = _since(mark)
    tree_bytes = _tree_bytes(tree)
    say(f"configure: {seconds['configure']:.2f} s (kernel {kernel_version}, tree {tree_bytes // MIB} MiB)")

    mark = time.monotonic()
    with open(raw, "wb") as handle:
        handle.truncate(recipe.size_gib * GIB)  # sparse: only what mkfs writes takes disk space
    run(["mkfs.ext4", *MKFS_OPTIONS, "-d", str(tree), str(raw)], timeout=900)
    seconds["mkfs"] = _since(mark)
    say(f"mkfs.ext4: {seconds['mkfs']:.1f} s ({recipe.size_gib} GiB file system)")

    mark = time.monotonic()
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out / DISK)], timeout=900)
    seconds["convert"] = _since(mark)
    disk_bytes = (out / DISK).stat().st_blocks * 512
    say(f"qemu-img convert: {seconds['convert']:.1f} s (qcow2 {disk_bytes // MIB} MiB)")

    seconds["total"] = _since(started)
    manifest = {
        "digest": digest,
        "build_format": BUILD_FORMAT,
        "recipe": recipe.as_dict(),
        "kernel_version": kernel_version,
        "seconds": seconds,
        "bytes": {
            "tree": tree_bytes,
            "disk_virtual": recipe.size_gib * GIB,
            "disk_allocated": disk_bytes,
            "kernel": (out / KERNEL).stat().st_size,
            "initrd": (out / INITRD).stat().st_size,
        },
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ffulab_version": ffulab.__version__,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _copy_boot_files(tree: Path, out: Path) -> str:
    """Copy the kernel and initrd out of the tree for direct kernel boot; return the kernel version."""
    kernels = sorted(tree.glob("boot/vmlinuz-*"))
    if len(kernels) != 1:
        raise ImageError("build", f"expected one kernel in /boot, found {[k.name for k in kernels]}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    initrd = tree / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise ImageError("build", f"no /boot/{initrd.name} next to the kernel")
    for source, name in ((kernels[0], KERNEL), (initrd, INITRD)):
        shutil.copyfile(source, out / name)
        (out / name).chmod(0o644)  # Debian keeps vmlinuz 0600; an unprivileged qemu must read it
    return version


def _artifacts(image_dir: Path, built: bool, seconds: float) -> ImageArtifacts:
    manifest = json.loads((image_dir / MANIFEST).read_text())
    return ImageArtifacts(
        digest=manifest["digest"],
        disk=image_dir / DISK,
        kernel=image_dir / KERNEL,
        initrd=image_dir / INITRD,
        kernel_version=manifest["kernel_version"],
        built=built,
        seconds=round(seconds, 3),
    )


def _tree_bytes(tree: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(tree):
        total += sum(os.lstat(os.path.join(root, name)).st_size for name in files)
    return total


def _since(mark: float) -> float:
    return round(time.monotonic() - mark, 2)
