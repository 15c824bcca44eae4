"""Lab-consistent snapshots: create, list, revert, delete; automatic ones at phase boundaries.

Entry points: :func:`create`, :func:`revert`, :func:`delete`, :func:`listing`,
:func:`auto_snapshot`, :func:`drop_superseded`, :func:`newest_snapshot_at_or_before`.
"""

from ffulab.snapshot.auto import auto_snapshot, drop_superseded
from ffulab.snapshot.lab import Options, Outcome, create, delete, listing, revert
from ffulab.snapshot.records import newest_snapshot_at_or_before

__all__ = [
    "Options",
    "Outcome",
    "auto_snapshot",
    "create",
    "delete",
    "drop_superseded",
    "listing",
    "newest_snapshot_at_or_before",
    "revert",
]
