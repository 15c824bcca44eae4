"""Root trees of the guest's Debian, to build service venvs in and to check them in.

A venv made by ``python3 -m venv`` points at the interpreter it was made with, and compiled wheels
(scrypt, netifaces, pyinotify...) link against that Python's ABI. So the venvs are made in a chroot
of a Debian tree of the guest's suite, whose ``/usr/bin/python3`` is the guest's.

* the **builder** root adds what compiling needs (gcc, libc6-dev, python3-dev, libssl-dev,
  libffi-dev); those packages never reach the guest image;
* the **runtime** root has only what every ffulab guest has for Python (python3, python3-venv): a
  venv that runs there runs in the guest, so the build is checked there, from the archive itself.

Both come from the same suite and mirror as the guest image, so their python3.X package version is
the guest's; it is recorded (``Root.python``) and the two roots are compared. Any other tree (say the
guest's own, unpacked) can be used through :func:`root_from_tree`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ffulab.artifacts import cache
from ffulab.artifacts.chroot import stream
from ffulab.cache import building, key_lock, publish
from ffulab.errors import ArtifactError

Progress = Callable[[str], None]

ROOT_FORMAT = 1
"""Bump when the way a root tree is made changes for the same recipe."""

RUNTIME_PACKAGES = ("python3", "python3-venv")
"""The guest image always has these (release-configs/common.yml image.packages)."""

BUILD_PACKAGES = ("gcc", "libc6-dev", "libffi-dev", "libssl-dev", "python3-dev")
"""C extensions without a cp311 wheel in some series: scrypt (OpenSSL), netifaces, pyinotify; cffi."""

TREE = "tree"
DPKG_STATUS = "var/lib/dpkg/status"


@dataclass(frozen=True)
class RootRecipe:
    """An mmdebstrap tree: ``--variant=apt`` of ``suite`` from ``mirror`` with ``packages``."""

    kind: str
    suite: str
    mirror: str
    packages: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "suite": self.suite,
            "mirror": self.mirror,
            "packages": list(self.packages),
        }

    def digest(self) -> str:
        document = {"root_format": ROOT_FORMAT, "recipe": self.as_dict()}
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def builder_recipe(
    suite: str = "bookworm", mirror: str | None = None, extra: tuple[str, ...] = ()
) -> RootRecipe:
    """The build root: the guest's Python plus a C tool chain and the headers the compiled deps need;
    ``extra``: more packages one artifact's build needs (its ffulab.yml ``artifact.build_packages``)."""
    packages = tuple(sorted({*RUNTIME_PACKAGES, *BUILD_PACKAGES, *extra}))
    return RootRecipe("builder", suite, mirror or _default_mirror(suite), packages)


def runtime_recipe(suite: str = "bookworm", mirror: str | None = None) -> RootRecipe:
    """A guest-like root: Python as the guest image has it, nothing to compile with."""
    return RootRecipe("runtime", suite, mirror or _default_mirror(suite), tuple(sorted(RUNTIME_PACKAGES)))


def _default_mirror(suite: str) -> str:
    """The mirror the guest image uses when the config names none: the host apt's (see ffulab.image)."""
    from ffulab.image.mirror import host_debian_mirror

    return host_debian_mirror(suite)


@dataclass(frozen=True)
class Root:
    """A root tree; ``digest`` is sha256 of its dpkg status (what is installed, at which versions)."""

    tree: Path
    digest: str
    python: str
    """Debian version of the interpreter package, e.g. ``python3.11-minimal 3.11.2-6+deb12u6``."""
    built: bool = False
    seconds: float = 0.0


def root_from_tree(tree: Path) -> Root:
    """Describe an existing Debian root tree (it must have /usr/bin/python3 and a dpkg status)."""
    status = tree / DPKG_STATUS
    if not status.is_file() or not os.path.lexists(tree / "usr/bin/python3"):
        raise ArtifactError(
            str(tree), "not a Debian root tree with python3 (no /usr/bin/python3 or dpkg status)"
        )
    return Root(
        tree=tree, digest=hashlib.sha256(status.read_bytes()).hexdigest(), python=python_package(tree)
    )


def python_package(tree: Path) -> str:
    """``<package> <version>`` of the package that ships the tree's /usr/bin/python3 interpreter."""
    target = os.readlink(tree / "usr/bin/python3") if (tree / "usr/bin/python3").is_symlink() else "python3"
    package = f"{Path(target).name}-minimal"  # python3.11 -> python3.11-minimal (ships the binary)
    version = dpkg_versions(tree).get(package)
    if not version:
        raise ArtifactError(str(tree), f"no {package} in the dpkg status: cannot tell which Python it has")
    return f"{package} {version}"


def dpkg_versions(tree: Path) -> dict[str, str]:
    """Installed package -> version, from the tree's dpkg status file."""
    versions: dict[str, str] = {}
    for stanza in (tree / DPKG_STATUS).read_text(errors="replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" ")
        )
        if fields.get("Package") and "installed" in fields.get("Status", "").split():
            versions[fields["Package"]] = fields.get("Version", "")
    return versions


def ensure_root(recipe: RootRecipe, cache_dir: Path | None = None, progress: Progress | None = None) -> Root:
    """The cached tree of ``recipe`` under ``<cache>/roots/<digest>/``, made by mmdebstrap if missing."""
    say = progress or (lambda _line: None)
    started = time.monotonic()
    roots = (cache_dir or cache.default_cache()) / "roots"
    digest = recipe.digest()
    entry = roots / digest
    built = False
    if not cache.is_complete(entry):
        with key_lock(roots, digest, lambda: say(f"{recipe.kind} root: waiting for another build of it")):
            if not cache.is_complete(entry):
                _build_root(recipe, roots, digest, say)
                built = True
    root = root_from_tree(entry / TREE)
    seconds = round(time.monotonic() - started, 1)
    if built:
        say(f"{recipe.kind} root {digest[:12]}: built in {seconds:.0f} s ({root.python})")
    return Root(root.tree, root.digest, root.python, built, seconds)


def _build_root(recipe: RootRecipe, roots: Path, digest: str, say: Progress) -> None:
    if os.geteuid() != 0:
        raise ArtifactError(f"{recipe.kind} root", "needs root (mmdebstrap, mount, chroot)")
    say(f"{recipe.kind} root: mmdebstrap {recipe.suite} with {', '.join(recipe.packages)} (about a minute)")
    started = time.monotonic()
    with building(roots, digest) as work:
        entry = work / "entry"
        entry.mkdir()
        argv = [
            "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
            "mmdebstrap", "--mode=root", "--variant=apt", f"--include={','.join(recipe.packages)}",
            recipe.suite, str(entry / TREE), recipe.mirror,
        ]  # fmt: skip
        stream(argv, on_line=lambda line: say(line) if line.startswith("I: ") else None, timeout=1800)
        manifest = {
            "recipe": recipe.as_dict(),
            "digest": digest,
            "python": python_package(entry / TREE),
            "seconds": round(time.monotonic() - started, 1),
        }
        (entry / cache.MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        publish(entry, roots, digest)
