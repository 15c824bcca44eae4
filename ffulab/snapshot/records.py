"""What ffulab remembers of each lab snapshot, in ``state.json`` under ``snapshots`` (pure, no libvirt).

A record is written (status ``creating``) before any domain is touched and marked ``complete``
once every domain has its part, so a crash half-way leaves a record that ``delete`` can clean up.
It keeps the ``phases`` map and the FFU engine's state as they were, so that a revert also puts
back what ffulab believes the lab is at.

FFU position: ``{"release": R, "step": S}`` means the lab is *at* step S of release R, i.e. the
steps before S are done and S has not started; ``S == DONE_STEP`` means release R is finished.
``newest_snapshot_at_or_before(state, R, S)`` is then the snapshot to revert to before rerunning
from step S of release R.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from ffulab.errors import BadSnapshotName, FfulabError, NoSuchSnapshot
from ffulab.ffu.positions import DONE
from ffulab.phases import PHASE_NAMES
from ffulab.state import FfuRecord, State, Window

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
"""Also a qemu internal snapshot tag: kept free of spaces and quotes."""
DONE_STEP = DONE
"""FFU steps are 1-9 and the final deploy; DONE stands for "this release is finished"."""
CREATING, COMPLETE = "creating", "complete"


def check_name(name: str) -> str:
    if not re.match(NAME_PATTERN, name):
        raise BadSnapshotName(name, NAME_PATTERN)
    return name


def timestamped_name(now: float | None = None) -> str:
    """``snap-YYYYmmdd-HHMMSS`` (UTC) for ``ffulab snapshot create`` without a name."""
    return "snap-" + datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime(
        "%Y%m%d-%H%M%S"
    )


def all_records(state: State) -> list[dict[str, Any]]:
    return list(state.data.snapshots)


def find(state: State, name: str) -> dict[str, Any] | None:
    return next((r for r in all_records(state) if r["name"] == name), None)


def get(state: State, name: str, complete: bool = True) -> dict[str, Any]:
    """The record of ``name`` (only a complete one unless ``complete`` is False)."""
    record = find(state, name)
    if record is None or (complete and record.get("status") != COMPLETE):
        known = [r["name"] for r in all_records(state) if not complete or r.get("status") == COMPLETE]
        raise NoSuchSnapshot(name, known)
    return record


def put(state: State, record: dict[str, Any]) -> None:
    """Add or replace ``record`` (by name) and save the state at once."""
    records = [r for r in all_records(state) if r["name"] != record["name"]]
    state.update(snapshots=[*records, record])


def remove(state: State, name: str) -> None:
    state.update(snapshots=[r for r in all_records(state) if r["name"] != name])


def current_phase(phases: dict[str, Any]) -> str | None:
    """The last phase in pipeline order that is done or running (what ``status`` calls the phase)."""
    reached = [n for n in PHASE_NAMES if phases.get(n, {}).get("status") in ("done", "running")]
    return reached[-1] if reached else None


def ffu_position(ffu: FfuRecord) -> dict[str, Any] | None:
    """``{"release", "step"}`` from the FFU engine's state (None before the FFU started)."""
    if not ffu.release:
        return None
    return {"release": ffu.release, "step": ffu.step if ffu.step is not None else 1}


def new_record(
    state: State, name: str, nodes: list[dict[str, Any]], auto: bool, ffu: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ``creating`` record of the lab as the state describes it now."""
    now = time.time()
    phases = {name: entry.model_dump(exclude_none=True) for name, entry in state.data.phases.items()}
    record: dict[str, Any] = {
        "name": name,
        "status": CREATING,
        "auto": auto,
        "created": round(now, 3),
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "phase": current_phase(phases),
        "phases": phases,
        "ffu": ffu if ffu is not None else ffu_position(state.data.ffu),
        "nodes": nodes,
    }
    record["state"] = state.data.contents()
    return record


def restore(state: State, record: dict[str, Any]) -> None:
    """Put back what ffulab believed the lab was at when ``record`` was taken, and say it was reverted."""
    state.data.restore_contents(record["phases"], record.get("state", {}))
    now = round(time.time(), 3)
    state.data.last_revert = {"snapshot": record["name"], "at": now}
    # the guests are back at the moment their memory was saved: what the lab lived since is gone
    taken = (record.get("paused") or {}).get("start", record["created"])
    state.data.clock_gaps.append(Window(start=taken, end=now))
    state.save()


def vm_state_bytes(record: dict[str, Any]) -> int | None:
    """The memory state the snapshot keeps in the overlays (None when it was not measured)."""
    sizes = [n.get("vm_state_bytes") for n in record["nodes"]]
    known = [s for s in sizes if s is not None]
    return sum(known) if known else None


def _chain(state: State) -> list[str] | None:
    return state.data.chain or None


def newest_snapshot_at_or_before(state: State, release: str, step: int) -> dict[str, Any] | None:
    """The complete snapshot to revert to before running step ``step`` of release ``release``.

    Candidates are the snapshots whose FFU position is at or before (release, step), in the order
    of the lab's FFU chain (series names when the state has no chain), plus snapshots from before
    the FFU phase (no position, no ``ffu`` in their phases), which come before every position.
    Of those the one furthest along wins, the newest on a tie. None if there is none.
    """
    chain = _chain(state)

    def order(name: str) -> Any:
        if chain is None:
            return name
        if name not in chain:
            return None
        return chain.index(name)

    wanted = order(release)
    if wanted is None:
        raise FfulabError(f"release {release} is not in this lab's FFU chain ({', '.join(chain or [])})")
    best, best_key = None, None
    for record in all_records(state):
        if record.get("status") != COMPLETE:
            continue
        position = record.get("ffu")
        if position:
            where = order(position["release"])
            if where is None or (where, position["step"]) > (wanted, step):
                continue
            key = (1, where, position["step"], record["created"])
        elif "ffu" in (record.get("phases") or {}):
            continue  # taken during or after the FFU phase at an unknown step: not safe to rerun from
        else:
            key = (0, "", 0, record["created"]) if chain is None else (0, -1, 0, record["created"])
        if best_key is None or key > best_key:
            best, best_key = record, key
    return best
