"""The one way ffulab talks to libvirt: a connection that is always closed, errors that name the URI.

This is virtualbmc's ``utils.libvirt_open``: call sites never catch ``libvirt.libvirtError``
themselves; they get a VirthostError that says which libvirt failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ffulab.errors import VirthostError

if TYPE_CHECKING:
    import libvirt


def _libvirt():
    """Import libvirt-python lazily (commands that never touch libvirt must not need it)."""
    try:
        import libvirt
    except ImportError:
        raise VirthostError(
            "libvirt-python is not installed in this Python: run 'ffulab virthost prepare'"
        ) from None
    # libvirt prints every error to stderr by default; ours are raised with the URI instead.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


@contextmanager
def libvirt_open(uri: str, readonly: bool = False) -> Iterator[libvirt.virConnect]:
    """Open ``uri``, yield the connection, close it whatever happens."""
    libvirt = _libvirt()
    try:
        conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise VirthostError(f"cannot connect to libvirt at {uri}: {exc}") from exc
    try:
        yield conn
    except libvirt.libvirtError as exc:
        raise VirthostError(f"libvirt at {uri}: {exc}") from exc
    finally:
        conn.close()


def dotted_version(version: int) -> str:
    """libvirt's version numbers as people write them: 9000000 -> '9.0.0'."""
    return f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}"
