"""Tempest's own venv on the virthost, cached by content hash like the service artifacts.

``<cache>/tempest/<key>/`` holds ``venv/`` (Tempest at its pin, its libraries at one series'
upper-constraints, plus junitxml for ``subunit2junitxml``) and ``manifest.json`` (written last).
The key hashes the pin, the constraints file and the Python it runs on, so a changed pin makes a
new venv and an unchanged one is reused in milliseconds. The venv is made with uv in a work dir and
moved into place by one rename: ``uv venv --relocatable`` makes its scripts find their interpreter
from wherever the venv ends up.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ffulab.artifacts.build import PYPI, find_uv
from ffulab.cache import building, key_lock, publish
from ffulab.errors import FfulabError
from ffulab.paths import cache_root
from ffulab.proc import CommandError, run

BUILD_FORMAT = 1
"""Bump when the same inputs would make a different venv (extras, flags...)."""
PROJECT = "tempest"
EXTRAS = ("junitxml",)
"""python-subunit's ``subunit2junitxml`` writes JUnit with it."""
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TempestVenv:
    """A finished Tempest venv; ``built`` tells whether this call made it, in ``seconds``."""

    path: Path
    version: str
    key: str
    built: bool
    seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.path / "bin" / name


def venv_key(version: str, constraints_text: bytes, python: str) -> str:
    """sha256 of everything that decides the venv's content."""
    document = {
        "build_format": BUILD_FORMAT,
        "project": PROJECT,
        "version": version,
        "extras": list(EXTRAS),
        "constraints": hashlib.sha256(constraints_text).hexdigest(),
        "python": python,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _python_identity() -> str:
    """The interpreter the venv is made from (the one running ffulab): version and base prefix."""
    return f"{platform.python_version()} {sys.base_prefix}"


def ensure_tempest(
    version: str,
    constraints: Path,
    progress: Callable[[str], None] = lambda line: None,
    *,
    cache_dir: Path | None = None,
    index_url: str = PYPI,
) -> TempestVenv:
    """The cached venv of Tempest ``version`` pinned by ``constraints``; built if no process has."""
    started = time.monotonic()
    key = venv_key(version, constraints.read_bytes(), _python_identity())
    directory = (cache_dir or cache_root()) / "tempest"
    entry = directory / key
    built = False
    if not (entry / MANIFEST).is_file():
        with key_lock(directory, key, lambda: progress(f"tempest {version}: waiting for another build")):
            if not (entry / MANIFEST).is_file():
                with building(directory, key) as work:
                    progress(f"tempest {version}: uv pip install ({constraints.name})")
                    ready = _build(work, version, constraints, (cache_dir or cache_root()) / "uv", index_url)
                    publish(ready, directory, key)
                built = True
    seconds = round(time.monotonic() - started, 2)
    progress(f"tempest {version}: {'built' if built else 'cached'}, {key[:12]} ({seconds:.1f} s)")
    return TempestVenv(entry / "venv", version, key, built, seconds)


def _build(work: Path, version: str, constraints: Path, uv_cache: Path, index_url: str) -> Path:
    """Make ``work/entry/venv`` and its manifest; return ``work/entry``."""
    entry = work / "entry"
    venv = entry / "venv"
    uv = str(find_uv())
    env = {**os.environ, "UV_CACHE_DIR": str(uv_cache), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    steps = [
        [uv, "venv", "--quiet", "--no-config", "--relocatable", "--python", sys.executable, str(venv)],
        [
            uv, "pip", "install", "--quiet", "--no-config", "--python", str(venv / "bin" / "python"),
            "--index-url", index_url, "--link-mode", "copy", "--compile-bytecode",
            "-c", str(constraints), f"{PROJECT}=={version}", *EXTRAS,
        ],
    ]  # fmt: skip
    started = time.monotonic()
    try:
        for argv in steps:
            run(argv, env=env, timeout=1800)
        check = "import importlib.metadata as m; print(m.version('tempest'))"
        installed = run([str(venv / "bin" / "python"), "-c", check], timeout=120).stdout.strip()
    except CommandError as exc:
        raise FfulabError(f"tempest {version}: the venv could not be made: {exc}") from None
    if installed != version:
        raise FfulabError(f"tempest {version}: the venv holds tempest {installed}")
    manifest = {
        "build_format": BUILD_FORMAT,
        "project": PROJECT,
        "version": version,
        "extras": list(EXTRAS),
        "constraints": constraints.name,
        "python": _python_identity(),
        "seconds": round(time.monotonic() - started, 1),
    }
    (entry / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return entry
