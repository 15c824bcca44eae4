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


LOOKUPS = {
    # kind: (the connection's lookup method, libvirt's error code for "there is no such object")
    "domain": ("lookupByName", "VIR_ERR_NO_DOMAIN"),
    "network": ("networkLookupByName", "VIR_ERR_NO_NETWORK"),
}


def lookup(conn: libvirt.virConnect, kind: str, name: str):
    """The lab's ``kind`` (domain, network) called ``name``, or None when libvirt says there is none.

    Only libvirt's "no such domain / network" means absent: any other error (libvirtd gone, permission,
    a timeout) raises a VirthostError naming the object, so nothing is taken for gone that may still be there.
    """
    libvirt = _libvirt()
    method, missing = LOOKUPS[kind]
    try:
        return getattr(conn, method)(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == getattr(libvirt, missing):
            return None
        raise VirthostError(f"{kind} {name}: libvirt cannot say whether it exists: {exc}") from exc


@contextmanager
def acting_on(what: str) -> Iterator[None]:
    """A libvirt error inside the block becomes a VirthostError naming ``what`` (``domain NAME``)."""
    libvirt = _libvirt()
    try:
        yield
    except libvirt.libvirtError as exc:
        raise VirthostError(f"{what}: {exc}") from exc


def dotted_version(version: int) -> str:
    """libvirt's version numbers as people write them: 9000000 -> '9.0.0'."""
    return f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}"
