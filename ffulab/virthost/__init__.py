"""The virthost: the machine whose libvirt runs the lab, one kind per module (local, sandbox, ssh).

``virthost_for`` turns the ``--virthost`` value into a Virthost; ``from_record`` rebuilds the
one a workspace's state file recorded.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from ffulab.errors import UsageError, VirthostError
from ffulab.virthost import daemons
from ffulab.virthost.base import Virthost
from ffulab.virthost.local import Local
from ffulab.virthost.remote import Remote
from ffulab.virthost.sandbox import Sandbox

ACCEPTED = "auto, sandbox, local, ssh://[user@]host"

__all__ = ["Local", "Remote", "Sandbox", "Virthost", "auto_kind", "from_record", "virthost_for"]


def virthost_for(spec: str | None) -> Virthost:
    """The virthost that ``--virthost SPEC`` names (None or 'auto': see ``auto_kind``)."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        spec = auto_kind()
    if spec == "sandbox":
        return Sandbox()
    if spec == "local":
        return Local()
    if spec.startswith("ssh://"):
        return Remote(_ssh_target(spec))
    raise UsageError(f"--virthost: expected one of {ACCEPTED}; got {spec!r}")


def auto_kind() -> str:
    """'sandbox' for root on a machine without a host libvirtd, else 'local'.

    A libvirtd in another network namespace (an earlier sandbox) does not count: it is ours.
    """
    if os.geteuid() != 0:
        return "local"
    here = daemons.netns_inode()
    host_libvirtd = [pid for pid in daemons.processes("libvirtd") if daemons.netns_inode(pid) == here]
    return "local" if host_libvirtd else "sandbox"


def from_record(record: dict[str, Any]) -> Virthost:
    """The virthost a state file recorded with ``Virthost.to_record``."""
    try:
        virthost = virthost_for(record["spec"])
    except (KeyError, TypeError, UsageError) as exc:
        raise VirthostError(f"unreadable virthost record {record!r}: {exc}") from None
    if virthost.kind != record.get("kind"):
        raise VirthostError(f"virthost record {record!r}: spec and kind disagree")
    return virthost


def _ssh_target(spec: str) -> str:
    """``ssh://[user@]host`` -> ``[user@]host``; anything more (port, path, password) is refused."""
    parts = urlsplit(spec)
    try:
        extra = parts.port or parts.password or parts.query or parts.fragment or parts.path.strip("/")
    except ValueError:  # a port that is not a number
        extra = True
    if not parts.hostname or extra:
        raise UsageError(f"--virthost: expected one of {ACCEPTED}; got {spec!r}")
    return f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
