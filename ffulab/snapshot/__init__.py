"""Lab-consistent snapshots: create, list, revert, delete; automatic ones at phase boundaries.

Entry points: :func:`create`, :func:`revert`, :func:`delete`, :func:`listing`,
:func:`auto_snapshot`, :func:`newest_snapshot_at_or_before`.
"""

from ffulab.snapshot.auto import auto_snapshot
from ffulab.snapshot.lab import Options, Outcome, create, delete, listing, revert
from ffulab.snapshot.records import newest_snapshot_at_or_before

__all__ = [
    "Options",
    "Outcome",
    "auto_snapshot",
    "create",
    "delete",
    "listing",
    "newest_snapshot_at_or_before",
    "revert",
]
