"""The errors of lab snapshots, each message decided here."""

from __future__ import annotations

from ffulab.errors import FfulabError


class SnapshotError(FfulabError):
    """A lab snapshot could not be taken, reverted to or deleted; the message says what was left."""

    def __init__(self, name: str, problem: str):
        self.name, self.problem = name, problem
        super().__init__(f"snapshot '{name}': {problem}")


class NoSuchSnapshot(SnapshotError):
    """The lab has no snapshot of that name (bad usage: nothing was changed)."""

    exit_code = 2

    def __init__(self, name: str, known: list[str]):
        super().__init__(name, f"no such snapshot in this lab; snapshots: {', '.join(known) or 'none'}")


class BadSnapshotName(SnapshotError):
    exit_code = 2

    def __init__(self, name: str, pattern: str):
        super().__init__(name, f"a snapshot name is letters, digits, '.', '_' and '-' ({pattern})")
