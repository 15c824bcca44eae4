"""Lock files: the exact packages of a service venv per series, reviewed into git like code.

``release-configs/locks/<series>/<artifact>.txt`` is what ``pip freeze`` of the built venv printed
(``name==version``, sorted), under a header saying what it was made from. A build with a lock
installs with it as constraints instead of resolving anew against upper-constraints, so a job
builds the same packages next month; ``ffulab lock`` regenerates the locks after a change.

Also here: reading one pin out of an upper-constraints file (``name===version;python_version>='3.10'``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ffulab.errors import LockError

LOCKS_DIR = "release-configs/locks"

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*(?P<version>[^\s;#]+)\s*(?:;(?P<marker>[^#]*))?"
)
_MARKER = re.compile(r"""^\s*python_version\s*(?P<op>==|!=|>=|<=|>|<)\s*["'](?P<value>[0-9.]+)["']\s*$""")
_HEADER = re.compile(r"^#\s*(?P<key>[a-z][a-z0-9-]*):\s*(?P<value>.*?)\s*$")


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: ``oslo.config`` and ``Oslo_Config`` are ``oslo-config``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def constraint_pin(constraints: Path, project: str, python: tuple[int, int] = (3, 11)) -> str | None:
    """The version ``constraints`` pins for ``project`` on Python ``python``, or None if unpinned."""
    wanted = canonical_name(project)
    for line in constraints.read_text().splitlines():
        match = _PIN.match(line.strip())
        if not match or canonical_name(match["name"]) != wanted:
            continue
        if match["marker"] is None or _python_marker(match["marker"], python):
            return match["version"]
    return None


def _python_marker(marker: str, python: tuple[int, int]) -> bool:
    """Evaluate the markers upper-constraints uses (``python_version OP 'X.Y'``, joined by ``and``)."""
    for part in re.split(r"\s+and\s+", marker.strip()):
        match = _MARKER.match(part)
        if not match:
            raise ValueError(f"unsupported environment marker in constraints: {marker.strip()!r}")
        value = tuple(int(piece) for piece in match["value"].split("."))
        left = python[: len(value)]
        ok = {
            "==": left == value,
            "!=": left != value,
            ">=": left >= value,
            "<=": left <= value,
            ">": left > value,
            "<": left < value,
        }[match["op"]]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Lock:
    """``pins`` maps canonical names to versions; ``header`` holds its ``# key: value`` lines."""

    pins: dict[str, str]
    header: dict[str, str]

    def version_of(self, project: str) -> str | None:
        return self.pins.get(canonical_name(project))


def lock_path(root: Path, series: str, artifact: str) -> Path:
    """Where the lock of ``artifact`` (keystone, openstackclient...) at ``series`` lives."""
    return root / LOCKS_DIR / series / f"{artifact}.txt"


def parse_freeze(text: str, source: str = "pip freeze") -> dict[str, str]:
    """``name==version`` lines -> {canonical name: version}; skips comments and blanks, refuses the rest."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;=]+)", line)
        if not match:
            raise LockError(source, f"line {number}: expected 'name==version', got {raw.strip()!r}")
        name = canonical_name(match[1])
        if name in pins and pins[name] != match[2]:
            raise LockError(source, f"line {number}: {name} pinned twice ({pins[name]} and {match[2]})")
        pins[name] = match[2]
    return pins


def read_lock(path: Path) -> Lock:
    """Parse a lock file; a LockError names the file and the line."""
    try:
        text = path.read_text()
    except OSError as error:
        raise LockError(str(path), f"cannot read it: {error.strerror}") from None
    header = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            header[match["key"]] = match["value"]
    pins = parse_freeze(text, str(path))
    if not pins:
        raise LockError(str(path), "no 'name==version' line in it")
    return Lock(pins=pins, header=header)


def format_lock(pins: dict[str, str], header: dict[str, str], intro: Iterable[str] = ()) -> str:
    """The text of a lock file: free comment lines, ``# key: value`` lines, then sorted ``name==version``."""
    lines = [f"# {line}" if line else "#" for line in intro]
    lines += [f"# {key}: {value}" for key, value in header.items()]
    lines += [f"{name}=={version}" for name, version in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def write_lock(path: Path, pins: dict[str, str], header: dict[str, str], intro: Iterable[str] = ()) -> bool:
    """Write the lock atomically (temp file + rename); return whether its content changed."""
    text = format_lock(pins, header, intro)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
