"""Build one service artifact: a venv at its guest path, made in a chroot of the guest's Debian, as squashfs.

``keystone-25.0.0.squashfs`` is the tree of ``/opt/openstack/keystone-25.0.0/``: a venv of Debian's
``/usr/bin/python3`` with keystone 25.0.0, PyMySQL and gunicorn at the series' upper-constraints
(or its lock), bytecode compiled. The guest mounts it read-only there (loop, listed in fstab) and
runs it as is: no venv creation, no pip, no compiling, and no unpacking in a TCG guest, where each
of those costs minutes (unpacking five services' archives side by side took 245-547 s each).

Steps, each with a progress line, in one throwaway namespace over the builder root (an overlay with
a tmpfs upper, see :mod:`ffulab.artifacts.chroot`): ``python3 -m venv --without-pip``, ``uv pip
install --compile-bytecode`` (uv's binary bind-mounted in with the pins; uv's cache bind-mounted from
the host, so rebuilds download and compile nothing), ``uv pip freeze``, ``mksquashfs`` (the sources'
mtimes kept: the bytecode is checked against them). Then the image is unpacked over the guest-like
runtime root and the service's version command must print
the pinned version there without compiling any bytecode. The result appears in the cache by one
rename, with its manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ffulab
from ffulab.artifacts import cache
from ffulab.artifacts.chroot import Overlay, run_in, run_script
from ffulab.artifacts.lock import Lock, canonical_name, parse_freeze, read_lock, sha256_file
from ffulab.artifacts.roots import Root, builder_recipe, ensure_root, runtime_recipe
from ffulab.cache import building, key_lock, publish
from ffulab.errors import ArtifactError, LockError
from ffulab.proc import CommandError

Progress = Callable[[str], None]

BUILD_FORMAT = 3
"""Bump when a build makes something different from the same inputs (flags, layout, extras...)."""

PYPI = "https://pypi.org/simple"
VENV_PARENT = "/opt/openstack"
SQUASHFS_COMPRESSION = ("-comp", "zstd", "-Xcompression-level", "3")
"""What a guest decompresses on each first read of a file: zstd level 3, 30 % smaller than lz4 for about the
same first start in a TCG guest (docs/design.md), and the images go through the undercloud's HTTP mirror."""
SERVICE_EXTRAS = ("PyMySQL", "gunicorn")
"""Added to every OpenStack service venv: the MySQL driver, and a pure-Python WSGI server."""

EXTRA_CONSTRAINTS = ("setuptools<82",)
"""Pins ffulab adds to upper-constraints (which leave setuptools free): setuptools 82 dropped
pkg_resources, which 2023.x and 2024.x services still import at start-up. A lock pins all anyway."""

UV_CACHE_INSIDE = "/var/cache/ffulab-uv"
STAGE = "/tmp/ffulab"  # where the build's inputs are put inside the root (in the overlay's upper only)
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PYC_MARKER = "ffulab-check-pyc-written:"
STEP_MARKER = "ffulab-build-step:"


@dataclass(frozen=True)
class ArtifactSpec:
    """What goes into one kind of artifact and how to check it."""

    name: str
    """File and venv name: ``<svc>`` -> <svc>-<version>.squashfs, /opt/openstack/<svc>-<version>."""
    project: str
    """The PyPI project installed at the pinned version."""
    extras: tuple[str, ...] = ()
    check: tuple[str, ...] = ()
    """A command of the venv's bin/ whose output ends with the version; empty: ask importlib.metadata."""
    pins: tuple[str, ...] = ()
    """Constraints added to the series' upper-constraints for this artifact (roles/<svc>/ffulab.yml)."""
    build_packages: tuple[str, ...] = ()
    """Debian packages its build needs besides the builder root's (headers a compiled dependency links
    against): the artifact is then built in a builder root that has them, its own cache entry."""

    def check_argv(self, venv: str) -> list[str]:
        if self.check:
            return [f"{venv}/bin/{self.check[0]}", *self.check[1:]]
        code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
        return [f"{venv}/bin/python", "-c", code, self.project]


CLIENT = ArtifactSpec("openstackclient", "python-openstackclient", (), ("openstack", "--version"))
"""The undercloud's client, a separate artifact: service venvs do not carry it."""


@dataclass(frozen=True)
class Artifact:
    """A finished artifact in the cache; ``built`` tells whether this call built it, in ``seconds``."""

    name: str
    version: str
    series: str
    path: Path
    key: str
    venv_path: str
    built: bool
    seconds: float
    sha256: str
    size: int

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path.parent / cache.MANIFEST).read_text())


def venv_path(spec: ArtifactSpec, version: str) -> str:
    return f"{VENV_PARENT}/{spec.name}-{version}"


def archive_name(spec: ArtifactSpec, version: str) -> str:
    return f"{spec.name}-{version}.squashfs"


def artifact_key(
    spec: ArtifactSpec,
    version: str,
    series: str,
    constraints_text: bytes,
    lock_text: bytes | None,
    builder_digest: str,
) -> str:
    """sha256 of everything that decides the artifact's content (and of BUILD_FORMAT)."""
    document = {
        "build_format": BUILD_FORMAT,
        "name": spec.name,
        "project": canonical_name(spec.project),
        "version": version,
        "series": series,
        "extras": sorted(canonical_name(extra) for extra in spec.extras),
        "extra_constraints": [*EXTRA_CONSTRAINTS, *spec.pins],
        "venv": venv_path(spec, version),
        "constraints": hashlib.sha256(constraints_text).hexdigest(),
        "lock": hashlib.sha256(lock_text).hexdigest() if lock_text is not None else None,
        "builder": builder_digest,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def ensure_artifact(
    spec: ArtifactSpec,
    version: str,
    series: str,
    constraints: Path,
    lock: Path | None,
    progress: Progress | None = None,
    *,
    cache_dir: Path | None = None,
    builder: Root | None = None,
    runtime: Root | None = None,
    suite: str = "bookworm",
    mirror: str | None = None,
    index_url: str = PYPI,
    force: bool = False,
) -> Artifact:
    """Return the cached artifact ``spec`` ``version`` at ``series``, building it if no process has.

    ``constraints`` is the series' upper-constraints; ``lock`` (if given) its lock file, which then
    decides every version. ``builder``/``runtime`` default to the cached roots of ``suite``/``mirror``
    (the guest image's). ``force`` rebuilds even when cached. Concurrent callers wait on a per-key lock.
    """
    say = progress or (lambda _line: None)
    started = time.monotonic()
    label = f"{spec.name} {version} ({series})"
    locked = _checked_lock(lock, spec, version, constraints, say) if lock is not None else None
    cache_base = cache_dir or cache.default_cache()
    if spec.build_packages:  # its own builder root (a different digest, so its own artifact key)
        builder = ensure_root(builder_recipe(suite, mirror, spec.build_packages), cache_base, say)
    else:
        builder = builder or ensure_root(builder_recipe(suite, mirror), cache_base, say)
    key = artifact_key(
        spec, version, series, constraints.read_bytes(), lock.read_bytes() if lock else None, builder.digest
    )
    directory = cache_base / "artifacts"
    entry = directory / key
    built = False
    if force or not cache.is_complete(entry):
        with key_lock(directory, key, lambda: say(f"{label}: waiting for another build of it")):
            if force or not cache.is_complete(entry):
                runtime = runtime or ensure_root(runtime_recipe(suite, mirror), cache_base, say)
                build = _Build(spec, version, series, constraints, lock, locked, builder, runtime, key)
                with building(directory, key) as work:
                    ready = build.run(work, cache_base / "uv", index_url, say)
                    publish(ready, directory, key)
                built = True
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    seconds = round(time.monotonic() - started, 2)
    say(
        f"{label}: {'built' if built else 'cached'}, {manifest['size'] / 2**20:.0f} MiB, "
        f"{key[:12]} ({seconds:.1f} s)"
    )
    return Artifact(
        name=spec.name,
        version=version,
        series=series,
        path=entry / manifest["archive"],
        key=key,
        venv_path=manifest["venv"],
        built=built,
        seconds=seconds,
        sha256=manifest["sha256"],
        size=manifest["size"],
    )


def _checked_lock(lock: Path, spec: ArtifactSpec, version: str, constraints: Path, say: Progress) -> Lock:
    """Read a lock and refuse one made for another version; warn when the constraints changed since."""
    parsed = read_lock(lock)
    pinned = parsed.version_of(spec.project)
    if pinned != version:
        raise LockError(
            str(lock), f"pins {spec.project} {pinned or '(nothing)'}, the config asks for {version}"
        )
    made_from = parsed.header.get("constraints-sha256")
    if made_from and made_from != sha256_file(constraints):
        say(f"warning: {lock.name} was made from another {constraints.name}; the lock wins (ffulab lock)")
    return parsed


def find_uv() -> Path:
    """The uv binary: ``$FFULAB_UV``, the ``uv`` Python package's, else ``uv`` on PATH."""
    if os.environ.get("FFULAB_UV"):
        return Path(os.environ["FFULAB_UV"])
    try:
        from uv import find_uv_bin

        return Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if not found:
        raise ArtifactError("uv", "no uv binary found", "pip install uv, or set FFULAB_UV=/path/to/uv")
    return Path(found)


def _ca_bundle() -> Path | None:
    """The host's CA bundle, given to the chroot so it trusts what the host trusts (e.g. a TLS proxy)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), str(HOST_CA_BUNDLE)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@dataclass
class _Build:
    spec: ArtifactSpec
    version: str
    series: str
    constraints: Path
    lock: Path | None
    locked: Lock | None
    builder: Root
    runtime: Root
    key: str

    def run(self, work: Path, uv_cache: Path, index_url: str, say: Progress) -> Path:
        """Build into ``work``; return the finished entry dir (archive, freeze.txt, manifest.json).

        venv, install, freeze and mksquashfs run as one script in one namespace whose overlay upper is a
        tmpfs: the venv is written to memory, archived from there, and vanishes with the namespace
        (deleting ~12,000 files from disk took longer than making the archive).
        """
        started = time.monotonic()
        label = f"{self.spec.name} {self.version} ({self.series})"
        venv = venv_path(self.spec, self.version)
        if self.builder.python != self.runtime.python:
            say(f"warning: builder has {self.builder.python}, runtime root {self.runtime.python}")
        uv_cache.mkdir(parents=True, exist_ok=True)
        env = self._stage(work / "stage")
        binds = {UV_CACHE_INSIDE: uv_cache, STAGE: work / "stage"}
        overlay = Overlay.create(work / "build", [self.builder.tree], binds, tmpfs=True)
        out = work / "entry"
        out.mkdir()
        archive = out / archive_name(self.spec, self.version)
        freeze_file, size_file = work / "freeze.txt", work / "venv-bytes"
        upper_venv = overlay.upper / venv.lstrip("/")
        squash = [
            "mksquashfs", str(upper_venv), str(archive), "-noappend", "-all-root", "-no-xattrs",
            "-quiet", "-no-progress", *SQUASHFS_COMPRESSION, "-e", ".lock",  # uv's own
        ]  # fmt: skip
        freeze = [f"{STAGE}/uv", "pip", "freeze", "-q", "--python", f"{venv}/bin/python"]
        steps = {
            "venv": overlay.chroot(["/usr/bin/python3", "-m", "venv", "--without-pip", venv]),
            "install": overlay.chroot(self._install_argv(venv, index_url)),
            "freeze": f"{overlay.chroot(freeze)} > {shlex.quote(str(freeze_file))}",
            "archive": shlex.join(squash)
            + f"\ndu -sb {shlex.quote(str(upper_venv))} > {shlex.quote(str(size_file))}",
        }
        upper_etc = shlex.quote(str(overlay.upper / "etc"))
        # the host's resolv.conf names the resolver now; the root's copy may be stale
        resolv = (
            f"if [ -e /etc/resolv.conf ]; then mkdir -p {upper_etc}; cp -L /etc/resolv.conf {upper_etc}/; fi"
        )
        script = overlay.mount_script(prepare=resolv) + "".join(
            f"\necho {STEP_MARKER}{name}\n{command}" for name, command in steps.items()
        )
        pins = "its lock" if self.lock else self.constraints.name
        wanted = " ".join([f"{self.spec.project}=={self.version}", *self.spec.extras])
        timer = _Steps(
            label,
            say,
            {
                "venv": f"python3 -m venv {venv} in the builder root",
                "install": f"uv pip install {wanted} ({pins})",
                "freeze": "uv pip freeze",
                "archive": f"mksquashfs {' '.join(SQUASHFS_COMPRESSION)}",
            },
        )
        try:
            run_script(script, env=env, on_line=timer.on_line, timeout=3600)
        except CommandError as error:
            tail = "\n".join(error.output.strip().splitlines()[-25:])
            raise ArtifactError(
                label, f"step '{timer.current}' failed (exit {error.returncode}):\n{tail}"
            ) from None
        seconds = timer.finish()
        freeze_pins = parse_freeze(freeze_file.read_text(), f"uv pip freeze of {venv}")
        self._check_freeze(freeze_pins)
        size = archive.stat().st_size
        venv_bytes = int(size_file.read_text().split()[0])
        mib = 2**20
        say(f"{label}: archive {size / mib:.0f} MiB, venv {venv_bytes / mib:.0f} MiB, {seconds['archive']} s")

        mark = time.monotonic()
        check = self._verify(archive, work / "verify", venv, say)
        seconds["verify"] = _since(mark)
        seconds["total"] = _since(started)

        (out / "freeze.txt").write_text("".join(f"{name}=={v}\n" for name, v in sorted(freeze_pins.items())))
        manifest = {
            "build_format": BUILD_FORMAT,
            "key": self.key,
            "service": self.spec.name,
            "project": self.spec.project,
            "version": self.version,
            "series": self.series,
            "extras": list(self.spec.extras),
            "venv": venv,
            "archive": archive.name,
            "sha256": sha256_file(archive),
            "size": size,
            "venv_bytes": venv_bytes,
            "seconds": seconds,
            "build_seconds": seconds["total"],
            "check": check,
            "constraints": {"file": self.constraints.name, "sha256": sha256_file(self.constraints)},
            "lock": {"file": str(self.lock), "sha256": sha256_file(self.lock)} if self.lock else None,
            "builder": {"digest": self.builder.digest, "python": self.builder.python},
            "runtime": {"digest": self.runtime.digest, "python": self.runtime.python},
            "uv": _uv_version(),
            "index_url": index_url,
            "freeze": [f"{name}=={v}" for name, v in sorted(freeze_pins.items())],
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "ffulab_version": ffulab.__version__,
        }
        (out / cache.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")  # last: marks it complete
        return out

    def _stage(self, stage: Path) -> dict[str, str]:
        """Put uv, the pins and the CA bundle in ``stage`` (bind-mounted at STAGE); return uv's env."""
        stage.mkdir(parents=True)
        shutil.copy2(find_uv(), stage / "uv")
        shutil.copyfile(self.constraints, stage / "constraints.txt")
        pins = (*EXTRA_CONSTRAINTS, *self.spec.pins)
        (stage / "ffulab-constraints.txt").write_text("".join(f"{pin}\n" for pin in pins))
        if self.lock:
            shutil.copyfile(self.lock, stage / "lock.txt")
        env = {"UV_CACHE_DIR": UV_CACHE_INSIDE, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
        bundle = _ca_bundle()
        if bundle:
            shutil.copyfile(bundle, stage / "ca.pem")
            env["SSL_CERT_FILE"] = f"{STAGE}/ca.pem"
        return env

    def _install_argv(self, venv: str, index_url: str) -> list[str]:
        if self.lock:
            pins = ["-c", f"{STAGE}/lock.txt"]
        else:
            pins = ["-c", f"{STAGE}/constraints.txt", "-c", f"{STAGE}/ffulab-constraints.txt"]
        return [
            f"{STAGE}/uv", "pip", "install", "--no-config", "--python", f"{venv}/bin/python",
            "--index-url", index_url, "--link-mode", "copy", "--compile-bytecode", *pins,
            f"{self.spec.project}=={self.version}", *self.spec.extras,
        ]  # fmt: skip

    def _check_freeze(self, freeze: dict[str, str]) -> None:
        """With a lock the venv holds exactly the locked packages; without, at least the pinned version."""
        if freeze.get(canonical_name(self.spec.project)) != self.version:
            raise ArtifactError(
                f"{self.spec.name} {self.version}",
                f"the venv has {self.spec.project} {freeze.get(canonical_name(self.spec.project))}",
            )
        if self.locked and freeze != self.locked.pins:
            extra = sorted(set(freeze.items()) - set(self.locked.pins.items()))
            missing = sorted(set(self.locked.pins.items()) - set(freeze.items()))
            raise LockError(
                str(self.lock),
                f"the venv built with it differs: not in the lock {extra}, not installed {missing}",
            )

    def _verify(self, archive: Path, base: Path, venv: str, say: Progress) -> dict[str, Any]:
        """Unpack the image over the runtime root; the check command must print the pinned version.

        The unpacked layer and the overlay's upper live in a tmpfs of the check's own namespace: nothing
        to write to disk, nothing to delete afterwards, and the upper is inspected from inside.
        """
        overlay = Overlay.create(base, [base / "layer", self.runtime.tree], tmpfs=True)
        target = base / "layer" / venv.lstrip("/")
        unpack = (
            f"mkdir -p {shlex.quote(str(target.parent))}\n"
            f"unsquashfs -q -n -d {shlex.quote(str(target))} {shlex.quote(str(archive))} >/dev/null"
        )
        # Python writes .pyc only for modules whose bytecode is missing or stale: the guest would too
        upper_venv = shlex.quote(f"{overlay.upper}/{venv.lstrip('/')}")
        after = f"echo {PYC_MARKER} $(find {upper_venv} -name '*.pyc' 2>/dev/null | wc -l)"
        argv = self.spec.check_argv(venv)
        try:
            output = run_in(overlay, argv, timeout=600, prepare=unpack, after=after).strip()
        except CommandError as error:
            raise ArtifactError(
                f"{self.spec.name} {self.version}",
                f"{' '.join(argv)} fails in a guest-like root ({self.runtime.python}):\n"
                + error.output[-2000:],
            ) from None
        output, marker, counted = output.rpartition(PYC_MARKER)
        if not marker:  # cannot happen unless the shell around the check broke
            raise ArtifactError(f"{self.spec.name} {self.version}", "the check's .pyc count is missing")
        output, pyc_written = output.strip(), int(counted.strip() or 0)
        last = output.split()[-1] if output else ""
        if last != self.version:
            raise ArtifactError(
                f"{self.spec.name} {self.version}",
                f"{' '.join(argv)} printed {output!r}, expected {self.version}",
            )
        if pyc_written:
            say(f"warning: the check compiled {pyc_written} modules again: the archive's bytecode is stale")
        shown = " ".join(self.spec.check or argv[:1])
        say(f"{self.spec.name} {self.version}: `{shown}` in a guest-like root prints {last}")
        return {"argv": argv, "output": output, "pyc_written": pyc_written}


class _Steps:
    """Reads a build script's output: step markers start the next step's clock and progress line;
    uv's summary lines (Resolved, Building, Built, Prepared, Installed...) pass, its ``+ pkg`` lines not.
    """

    def __init__(self, label: str, say: Progress, titles: dict[str, str]):
        self.label, self.say, self.titles = label, say, titles
        self.current, self.mark = "mount", time.monotonic()
        self.seconds: dict[str, float] = {}

    def on_line(self, line: str) -> None:
        text = line.strip()
        if text.startswith(STEP_MARKER):
            self._close()
            self.current = text[len(STEP_MARKER) :]
            self.say(f"{self.label}: {self.titles.get(self.current, self.current)}")
        elif text and not text.startswith(("+ ", "- ", "~ ")):
            self.say(f"{self.label}: {text}")

    def _close(self) -> None:
        self.seconds[self.current] = _since(self.mark)
        self.mark = time.monotonic()

    def finish(self) -> dict[str, float]:
        self._close()
        return self.seconds


def _uv_version() -> str:
    try:
        return subprocess.run(
            [find_uv(), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError, ArtifactError):
        return "unknown"


def _since(mark: float) -> float:
    return round(time.monotonic() - mark, 1)
