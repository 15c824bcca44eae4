"""What a base image is made of, and the content address (digest) its cache entry is filed under."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ffulab.errors import ConfigError
from ffulab.image import guest
from ffulab.image.mirror import host_debian_mirror

# Bump when build.py changes what it produces for the same recipe and files (mkfs options, steps...).
BUILD_FORMAT = 1

# What every ffulab guest needs: boot, network, SSH, Python for Ansible, IPMI client for the
# undercloud, zstd for prebuilt venv archives, chrony to step clocks after a snapshot revert.
BASE_PACKAGES = (
    "ca-certificates",
    "chrony",
    "iproute2",
    "ipmitool",
    "linux-image-cloud-amd64",
    "netbase",
    "openssh-server",
    "python3",
    "python3-venv",
    "sudo",
    "systemd-sysv",
    "tzdata",
    "zstd",
)

_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")  # Debian policy 5.6.1
_SUITE = re.compile(r"^[a-z][a-z0-9-]*$")
_MIRROR = re.compile(r"^(https?://|file:/)\S+$")
_CONFIG_KEYS = {"suite", "mirror", "packages", "size_gib"}


@dataclass(frozen=True)
class ImageRecipe:
    """A Debian guest image: ``packages`` always holds the base set, sorted, whatever the caller gave.

    ``mirror`` defaults to the host's own Debian mirror (see :mod:`ffulab.image.mirror`).
    """

    suite: str = "bookworm"
    mirror: str = ""
    packages: tuple[str, ...] = ()
    size_gib: int = 6

    def __post_init__(self) -> None:
        if not _SUITE.match(self.suite):
            raise ConfigError("image recipe", "suite", f"not a Debian suite name: {self.suite!r}")
        bad = [p for p in self.packages if not isinstance(p, str) or not _PACKAGE.match(p)]
        if bad:
            raise ConfigError("image recipe", "packages", f"not Debian package names: {bad}")
        size = self.size_gib
        if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= 1024:
            raise ConfigError("image recipe", "size_gib", f"expected an integer from 2 to 1024, got {size!r}")
        mirror = (self.mirror or host_debian_mirror(self.suite)).rstrip("/")
        if not _MIRROR.match(mirror):
            raise ConfigError("image recipe", "mirror", f"expected an http(s):// or file:/ URL: {mirror!r}")
        object.__setattr__(self, "mirror", mirror)
        object.__setattr__(self, "packages", tuple(sorted(set(BASE_PACKAGES) | set(self.packages))))

    @classmethod
    def from_config(cls, data: Mapping[str, Any], source: str = "image") -> ImageRecipe:
        """Build from a plain dict ``{suite, mirror?, packages, size_gib}``; errors name ``source``."""
        unknown = sorted(set(data) - _CONFIG_KEYS)
        if unknown:
            raise ConfigError(source, unknown[0], "unknown key", f"expected one of {sorted(_CONFIG_KEYS)}")
        packages = data.get("packages", [])
        if not isinstance(packages, list | tuple):
            raise ConfigError(source, "packages", f"expected a list of package names, got {packages!r}")
        for key in ("suite", "mirror"):
            if key in data and not isinstance(data[key], str):
                raise ConfigError(source, key, f"expected a string, got {data[key]!r}")
        try:
            return cls(
                suite=data.get("suite", "bookworm"),
                mirror=data.get("mirror", ""),
                packages=tuple(packages),
                size_gib=data.get("size_gib", 6),
            )
        except ConfigError as error:
            raise ConfigError(source, error.key, error.problem, error.hint) from None

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain JSON-able data (manifest, digest)."""
        return {
            "suite": self.suite,
            "mirror": self.mirror,
            "packages": list(self.packages),
            "size_gib": self.size_gib,
        }

    def digest(self) -> str:
        """sha256 of the recipe, the files and units the build bakes in, and BUILD_FORMAT."""
        document = {"build_format": BUILD_FORMAT, "recipe": self.as_dict(), "guest": guest.fingerprint()}
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()
