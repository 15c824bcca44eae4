"""The workspace's ``state.json``: what the lab is, what it owns, how far it got.

Every resource is recorded here *before* it is created (status ``planned``), then
marked ``created``; ``ffulab destroy`` walks the records newest first and removes
each, so a crash at any point leaves nothing that destroy cannot find (tenks' and
molecule's lesson). Every change is written at once, atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ffulab.errors import FfulabError

STATE_FILE = "state.json"
FORMAT = 1


class StateError(FfulabError):
    exit_code = 2


class State:
    """One lab's state file; methods change it and save it immediately."""

    def __init__(self, workspace: Path, data: dict[str, Any]):
        self.workspace = workspace
        self.data = data

    @property
    def path(self) -> Path:
        return self.workspace / STATE_FILE

    @classmethod
    def exists(cls, workspace: Path) -> bool:
        return (workspace / STATE_FILE).is_file()

    @classmethod
    def load(cls, workspace: Path) -> State:
        path = workspace / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise StateError(
                f"{workspace}: no lab here (no {STATE_FILE})",
            ) from None
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable state file: {exc}") from None
        if data.get("format") != FORMAT:
            raise StateError(
                f"{path}: state format {data.get('format')} is not {FORMAT}; destroy and recreate"
            )
        if isinstance(data.get("resources"), list) and "owned" not in data:
            data["owned"] = data.pop("resources")  # older state files named it so
        return cls(workspace, data)

    @classmethod
    def open(cls, workspace: Path, lab: str) -> State:
        """Load the lab at ``workspace`` or start a new state there."""
        if cls.exists(workspace):
            state = cls.load(workspace)
            if state.data.get("lab") != lab:
                raise StateError(
                    f"{workspace} holds lab '{state.data.get('lab')}', not '{lab}': "
                    f"use another -w or 'ffulab destroy -w {workspace}' first"
                )
            return state
        workspace.mkdir(parents=True, exist_ok=True)
        os.chmod(workspace, 0o700)
        state = cls(
            workspace, {"format": FORMAT, "lab": lab, "created": time.time(), "owned": [], "phases": {}}
        )
        state.save()
        return state

    def save(self) -> None:
        """Write atomically (temp file + fsync + rename) so a kill never leaves half a file."""
        fd, tmp = tempfile.mkstemp(dir=self.workspace, prefix=".state.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    # owned resources: what destroy removes ---------------------------------------------------

    def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.data["owned"] if kind is None or r["kind"] == kind]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((r for r in self.data["owned"] if r["kind"] == kind and r["name"] == name), None)

    @contextmanager
    def creating(self, kind: str, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        """Record a resource as planned, let the caller create it, then mark it created.

        If creation raises, the record stays ``planned``: destroy still tries to remove it.
        """
        record = self.find(kind, name)
        if record is None:
            record = {"kind": kind, "name": name, "status": "planned", **attrs}
            self.data["owned"].append(record)
        else:
            record.update(attrs)
        self.save()
        yield record
        record["status"] = "created"
        self.save()

    def forget(self, kind: str, name: str) -> None:
        self.data["owned"] = [r for r in self.data["owned"] if not (r["kind"] == kind and r["name"] == name)]
        self.save()

    # phases --------------------------------------------------------------------------------

    def phase(self, name: str) -> dict[str, Any]:
        return self.data["phases"].get(name, {})

    def mark_phase(self, name: str, status: str, **extra: Any) -> None:
        entry = self.data["phases"].setdefault(name, {})
        entry.update({"status": status, **extra})
        self.save()
