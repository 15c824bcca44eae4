"""The workload image: a tiny guest that proves the data plane, made here from Debian packages.

Nothing can be downloaded into a lab (no cirros): the image a service role boots as its workload is
Debian's cloud kernel (the guest image's kernel flavour, ``linux-image-cloud-amd64``) and an initramfs
of ``busybox-static`` with the virtio NIC's modules (the cloud kernel builds them as modules), a
``udhcpc`` hook, and a responder on TCP 80 answering every ``GET`` with this boot's ``/proc/uptime``
(the data-plane poller reads its first number: a counter going back is a reboot); the kernel answers
ICMP. Its files are :data:`FILES_DIR` (``init``, ``udhcpc.script``, ``http.sh``).

The packages are resolved to exact versions and SHA256 by the host's apt (``apt-get download
--print-uris``: no download), so the cache key is the content hash of everything the image is made
of: the two .deb files' SHA256, the files' text, the module list and :data:`FORMAT`. A cache entry
holds ``vmlinuz``, ``initrd.gz``, ``manifest.json`` and ``workload.tar.zst`` (the three, as the
undercloud's mirror serves them). The locking, work dirs and atomic publishing are :mod:`ffulab.cache`'s.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ffulab.cache import building, key_lock, publish
from ffulab.errors import ImageError
from ffulab.paths import cache_root

FORMAT = 1
"""Bump when this module changes what it makes from the same packages and files."""
KERNEL_PACKAGE = "linux-image-cloud-amd64"
"""The metapackage of the guest image's kernel; its candidate's versioned dependency is used."""
BUSYBOX_PACKAGE = "busybox-static"
MODULES = ("virtio_pci", "virtio_net")
"""What the initramfs loads, with their dependencies first (read from each module's ``depends=``)."""
FILES_DIR = Path(__file__).parent / "workload_files"
FILES = {"init": "init", "bin/udhcpc.script": "udhcpc.script", "bin/http.sh": "http.sh"}
"""Initramfs path -> file of :data:`FILES_DIR`; all executable."""
CMDLINE = "console=ttyS0 quiet panic=-1"
"""The kernel command line the image is made for (the image service's ``os_command_line`` image property)."""
KERNEL, INITRD, MANIFEST, ARCHIVE = "vmlinuz", "initrd.gz", "manifest.json", "workload.tar.zst"
TCP_PORT = 80

Progress = Callable[[str], None]
_URIS = re.compile(r"^'(?P<url>[^']+)' (?P<file>\S+) (?P<size>\d+) SHA256:(?P<sha256>[0-9a-f]{64})$")


@dataclass(frozen=True)
class Package:
    """One .deb as apt resolves it: what ``apt-get download`` fetches, and its SHA256."""

    name: str
    file: str
    size: int
    sha256: str


@dataclass(frozen=True)
class WorkloadImage:
    """A finished workload image in the cache; ``built`` tells whether this call built it."""

    digest: str
    directory: Path
    kernel_version: str
    built: bool
    seconds: float

    @property
    def kernel(self) -> Path:
        return self.directory / KERNEL

    @property
    def initrd(self) -> Path:
        return self.directory / INITRD

    @property
    def archive(self) -> Path:
        return self.directory / ARCHIVE

    def manifest(self) -> dict:
        return json.loads((self.directory / MANIFEST).read_text())


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ffulab/workload``, else ``~/.cache/ffulab/workload``."""
    return cache_root() / "workload"


def is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in (KERNEL, INITRD, MANIFEST, ARCHIVE))


# --- what it is made of -------------------------------------------------------------------------------
def _apt(argv: list[str], cwd: Path | None = None, timeout: float = 600) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageError("workload", f"{' '.join(argv[:2])}: {exc}") from None
    if done.returncode != 0:
        raise ImageError(
            "workload",
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-400:]}",
            "the host's apt must know bookworm's packages: apt-get update",
        )
    return done.stdout


def parse_print_uris(output: str) -> list[Package]:
    """``apt-get download --print-uris`` lines: ``'URL' FILE SIZE SHA256:HEX``."""
    found = []
    for line in output.splitlines():
        match = _URIS.match(line.strip())
        if match:
            name = match["file"].split("_", 1)[0]
            found.append(Package(name, match["file"], int(match["size"]), match["sha256"]))
    return found


def kernel_package(depends_output: str) -> str:
    """The versioned kernel package of ``apt-cache depends linux-image-cloud-amd64``."""
    for line in depends_output.splitlines():
        name = line.strip().removeprefix("Depends:").strip()
        if line.strip().startswith("Depends:") and re.match(r"^linux-image-\d\S*-cloud-amd64$", name):
            return name
    raise ImageError("workload", f"{KERNEL_PACKAGE} depends on no versioned kernel: {depends_output!r}")


def resolve_packages() -> list[Package]:
    """The kernel and busybox .debs apt would download now (no download yet)."""
    kernel = kernel_package(_apt(["apt-cache", "depends", KERNEL_PACKAGE]))
    packages = parse_print_uris(_apt(["apt-get", "download", "--print-uris", kernel, BUSYBOX_PACKAGE]))
    names = sorted(p.name for p in packages)
    if names != sorted([kernel, BUSYBOX_PACKAGE]):
        raise ImageError("workload", f"apt resolved {names}, expected {kernel} and {BUSYBOX_PACKAGE}")
    return sorted(packages, key=lambda p: p.name)


def files_text() -> dict[str, str]:
    return {path: (FILES_DIR / name).read_text() for path, name in FILES.items()}


def digest(packages: Iterable[Package], files: dict[str, str] | None = None) -> str:
    """The cache key: sha256 of the packages' SHA256, the files' text, the modules, the format."""
    document = {
        "format": FORMAT,
        "packages": [[p.file, p.sha256] for p in sorted(packages, key=lambda p: p.name)],
        "files": files if files is not None else files_text(),
        "modules": list(MODULES),
        "cmdline": CMDLINE,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the initramfs ------------------------------------------------------------------------------------
def module_depends(data: bytes) -> list[str]:
    """The ``depends=`` of a kernel module's ``.modinfo`` (names with '_'), from the .ko's bytes."""
    match = re.search(rb"(?:^|\x00)depends=([^\x00]*)\x00", data)
    if not match:
        return []
    return [name.replace("-", "_") for name in match[1].decode().split(",") if name]


def module_files(modules_dir: Path) -> dict[str, Path]:
    """Module name ('-' read as '_') -> its .ko or .ko.xz below ``modules_dir``."""
    found = {}
    for path in sorted(modules_dir.rglob("*.ko*")):
        if path.name.endswith((".ko", ".ko.xz")):
            found[path.name.split(".ko")[0].replace("-", "_")] = path
    return found


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    return lzma.decompress(data) if path.name.endswith(".xz") else data


def load_order(wanted: Iterable[str], depends: Callable[[str], list[str]]) -> list[str]:
    """Every module ``wanted`` needs, each after its dependencies (insmod does not resolve them)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ImageError("workload", f"module dependency cycle through {name}")
        visiting.add(name)
        for dependency in depends(name):
            visit(dependency)
        visiting.discard(name)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


def newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A cpio archive in the kernel's ``newc`` format: (path, mode, data) each, owner root, mtime 0."""
    out = io.BytesIO()

    def pad() -> None:
        out.write(b"\0" * (-out.tell() % 4))

    for ino, (path, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        name = path.encode() + b"\0"
        fields = (ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data), 0, 0, 0, 0, len(name), 0)
        out.write(b"070701" + b"".join(f"{value:08X}".encode() for value in fields))
        out.write(name)
        pad()
        out.write(data)
        pad()
    return out.getvalue()


def initramfs(busybox: bytes, modules: list[tuple[str, bytes]], files: dict[str, str]) -> bytes:
    """The gzip'd initramfs: directories, /bin/busybox, the modules and their order, the files."""
    entries: list[tuple[str, int, bytes]] = [
        (name, 0o040755, b"") for name in ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules")
    ]
    entries.append(("bin/busybox", 0o100755, busybox))
    entries += [(f"lib/modules/{name}.ko", 0o100644, data) for name, data in modules]
    entries.append(("lib/modules/order", 0o100644, "".join(f"{n}\n" for n, _ in modules).encode()))
    entries += [(path, 0o100755, text.encode()) for path, text in sorted(files.items())]
    raw = newc(entries)
    return gzip.compress(raw, compresslevel=9, mtime=0)


# --- the build ----------------------------------------------------------------------------------------
def ensure_workload_image(cache_dir: Path | None = None, progress: Progress | None = None) -> WorkloadImage:
    """The cached workload image of the packages apt resolves now, built first if no process has yet."""
    started = time.monotonic()
    say = progress or (lambda _line: None)
    cache = cache_dir or default_cache_dir()
    packages = resolve_packages()
    key = digest(packages)
    directory = cache / key
    built = False
    if not is_complete(directory):
        with key_lock(cache, key, lambda: say(f"workload image {key[:12]}: waiting for another build")):
            if not is_complete(directory):
                with building(cache, key) as work:
                    out = work / "image"
                    out.mkdir()
                    _build(packages, key, work, out, say)
                    publish(out, cache, key)
                built = True
    manifest = json.loads((directory / MANIFEST).read_text())
    image = WorkloadImage(
        key, directory, manifest["kernel_version"], built, round(time.monotonic() - started, 3)
    )
    say(f"workload image {key[:12]}: {'built' if built else 'cached'} in {image.seconds:.1f} s")
    return image


def _build(packages: list[Package], key: str, work: Path, out: Path, say: Progress) -> None:
    started = time.monotonic()
    debs, tree = work / "debs", work / "tree"
    debs.mkdir()
    os.chmod(work, 0o755)  # apt's download sandbox user (_apt) writes into debs/
    os.chmod(debs, 0o777)
    say(f"workload image: downloading {', '.join(p.file for p in packages)}")
    _apt(["apt-get", "download", "-q", *(p.file.split("_", 1)[0] for p in packages)], cwd=debs)
    for package in packages:
        deb = next(debs.glob(f"{package.name}_*.deb"), None)
        if deb is None or hashlib.sha256(deb.read_bytes()).hexdigest() != package.sha256:
            raise ImageError("workload", f"{package.file}: missing or not the SHA256 apt resolved")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True, capture_output=True, timeout=600)
    kernels = sorted(tree.glob("boot/vmlinuz-*"))
    if len(kernels) != 1:
        raise ImageError("workload", f"expected one kernel in the package, found {kernels}")
    kernel_version = kernels[0].name.removeprefix("vmlinuz-")
    available = module_files(tree / "lib/modules" / kernel_version)
    missing = [name for name in MODULES if name not in available]
    if missing:
        raise ImageError("workload", f"kernel {kernel_version} has no module {missing}")
    contents = {name: read_module(path) for name, path in available.items()}

    def depends(name: str) -> list[str]:
        if name not in contents:
            raise ImageError("workload", f"kernel {kernel_version}: no module {name}")
        return module_depends(contents[name])

    order = load_order(MODULES, depends)
    busybox = (tree / "bin/busybox").read_bytes()
    files = files_text()
    (out / INITRD).write_bytes(initramfs(busybox, [(name, contents[name]) for name in order], files))
    shutil.copyfile(kernels[0], out / KERNEL)
    for name in (KERNEL, INITRD):
        (out / name).chmod(0o644)
    manifest = {
        "digest": key,
        "format": FORMAT,
        "packages": [p.__dict__ for p in packages],
        "kernel_version": kernel_version,
        "modules": order,
        "cmdline": CMDLINE,
        "tcp": TCP_PORT,
        "bytes": {name: (out / name).stat().st_size for name in (KERNEL, INITRD)},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    manifest["seconds"] = round(time.monotonic() - started, 1)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _archive(out)
    say(
        f"workload image: kernel {kernel_version}, initrd {manifest['bytes'][INITRD]} bytes, "
        f"modules {' '.join(order)}, {manifest['seconds']:.0f} s"
    )


def _archive(out: Path) -> None:
    """``workload.tar.zst``: the kernel, initrd and manifest as the undercloud's mirror serves them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in (KERNEL, INITRD, MANIFEST):
            info = tar.gettarinfo(str(out / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            with open(out / name, "rb") as handle:
                tar.addfile(info, handle)
    done = subprocess.run(
        ["zstd", "-q", "-3", "-o", str(out / ARCHIVE)],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise ImageError("workload", f"zstd: {done.stderr.decode(errors='replace').strip()}")


def workload_mirror_entry(image: WorkloadImage) -> dict:
    """The image's entry in the undercloud mirror's index (``images``): its archive's mirror name,
    sha256 and size, and what a role needs to upload it (kernel version, command line, TCP port)."""
    data = image.archive.read_bytes()
    return {
        "name": "workload",
        "file": f"images/workload-{image.digest[:16]}.tar.zst",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "digest": image.digest,
        "kernel_version": image.kernel_version,
        "cmdline": CMDLINE,
        "tcp": TCP_PORT,
        "members": [KERNEL, INITRD, MANIFEST],
    }
