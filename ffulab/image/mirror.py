"""Find the Debian mirror the host's own apt uses, so a build works wherever apt does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"

_ONE_LINE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)\s*(?P<components>.*)$")


def host_debian_mirror(suite: str, etc_apt: Path = Path("/etc/apt")) -> str:
    """The first enabled ``deb`` source with ``suite`` and component ``main``, else deb.debian.org."""
    for uri, suites, components in _sources(etc_apt):
        if suite in suites and "main" in components and uri.startswith(("http://", "https://", "file:")):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _sources(etc_apt: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) of every enabled ``deb`` entry, in apt's file order."""
    files = [etc_apt / "sources.list"]
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        yield from (_deb822(text) if path.suffix == ".sources" else _one_line(text))


def _one_line(text: str) -> Iterator[tuple[str, list[str], list[str]]]:
    for line in text.splitlines():
        match = _ONE_LINE.match(line.split("#", 1)[0].strip())
        if match:
            yield match["uri"], [match["suite"]], match["components"].split()


def _deb822(text: str) -> Iterator[tuple[str, list[str], list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace() and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()
