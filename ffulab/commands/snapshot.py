"""``ffulab snapshot create|list|revert|delete``: lab-consistent snapshots of one lab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from ffulab import snapshot
from ffulab.errors import UsageError
from ffulab.logs import start_log
from ffulab.provision.labvirt import lab_virthost
from ffulab.provision.layout import Layout
from ffulab.snapshot import domains
from ffulab.snapshot.records import DONE_STEP
from ffulab.state import State
from ffulab.ui import console, detail, print_json
from ffulab.virthost.connection import libvirt_open

SIZE_NOTE = (
    "size: guest memory state kept in the nodes' qcow2 overlays (qemu-img info vm-state-size); "
    "disk blocks are shared with the running overlays"
)


def snapshot_command(workspace: Path, action: str, name: str | None, as_json: bool = False) -> int:
    state = State.load(workspace)
    if action in ("revert", "delete") and not name:
        raise UsageError(f"'ffulab snapshot {action}' needs a snapshot NAME (see 'ffulab snapshot list')")
    if action == "list":
        rows = snapshot.listing(state)
        if as_json:
            print_json({"snapshots": rows, "overlays_bytes": _overlay_bytes(state)})
        else:
            _render(rows, _overlay_bytes(state))
        return 0
    start_log(workspace, f"snapshot-{action}")
    if action == "create":
        outcome = snapshot.create(state, name, progress=detail)
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items())
        console.print(f"snapshot [bold]{outcome.record['name']}[/] taken ({parts})")
    elif action == "revert":
        outcome = snapshot.revert(state, name, progress=detail)
        for node, facts in outcome.nodes.items():
            detail(f"{node}: {_node_line(facts)}")
        console.print(
            f"lab back at [bold]{name}[/] (phase {outcome.record.get('phase') or '-'}): "
            f"domains reverted in {outcome.seconds['reverted']:.1f}s, "
            f"usable (SSH, clocks) after {outcome.seconds.get('usable', outcome.seconds['reverted']):.1f}s"
        )
    elif action == "delete":
        snapshot.delete(state, name, progress=detail)
        console.print(f"snapshot [bold]{name}[/] deleted")
    return 0


def revert_before_run(state: State, name: str) -> None:
    """``ffulab run --from-snapshot NAME``: revert, then let the run continue from there."""
    outcome = snapshot.revert(state, name, progress=detail)
    console.print(
        f"lab back at snapshot [bold]{name}[/] (phase {outcome.record.get('phase') or '-'}), "
        f"usable after {outcome.seconds.get('usable', outcome.seconds['reverted']):.1f}s"
    )


def _node_line(facts: dict[str, Any]) -> str:
    line = f"{facts.get('method')} revert {facts.get('seconds', 0):.1f}s"
    if facts.get("method") == domains.DISK_ONLY:
        line += " (it was off: left off)"
    if "ssh" in facts:
        line += f", SSH after {facts['ssh']:.1f}s, clock offset {facts['offset']:+.2f}s"
    if facts.get("fallback"):
        line += f" (in-place failed: {facts['fallback']})"
    return line


def _position(ffu: dict[str, Any]) -> str:
    step = ffu["step"]
    return f"{ffu['release']} done" if step == DONE_STEP else f"{ffu['release']} step {step}"


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def _overlay_bytes(state: State) -> int | None:
    """What the lab's overlays (all snapshots included) take on disk now (qemu-img actual-size)."""
    if not state.data.layout or not state.data.virthost:
        return None
    virthost = lab_virthost(state)
    total = 0
    with libvirt_open(virthost.uri, readonly=True) as conn:
        names = {domain.name() for domain in conn.listAllDomains()}
        for node in Layout.from_dict(state.data.layout).nodes:
            if node.domain not in names:
                continue
            path = domains.disk_path(conn.lookupByName(node.domain))
            info = domains.qemu_img_info(path, virthost.on_host) if path else None
            total += int((info or {}).get("actual-size", 0))
    return total


def _render(rows: list[dict[str, Any]], overlays: int | None) -> None:
    if not rows:
        console.print("no snapshots; take one with 'ffulab snapshot create [NAME]'")
        return
    table = Table(
        "name", "time (UTC)", "phase", "ffu", "size", "nodes", "", title="snapshots", title_justify="left"
    )
    for row in rows:
        ffu = _position(row["ffu"]) if row["ffu"] else "-"
        marks = [m for m, on in (("auto", row["auto"]), ("last reverted to", row["last_reverted_to"])) if on]
        if row["status"] != "complete":
            marks.append(f"[red]{row['status']}: delete it[/]")
        nodes = ", ".join(
            f"{node} {_human(size) if row['power'][node] != 'off' else 'off, disk only'}"
            for node, size in row["nodes"].items()
        )
        table.add_row(
            row["name"], row["time"].replace("+00:00", ""), row["phase"] or "-", ffu,
            _human(row["vm_state_bytes"]), nodes, ", ".join(marks),
        )  # fmt: skip
    console.print(table)
    console.print(f"[dim]{SIZE_NOTE}; the overlays take {_human(overlays)} on disk now[/]")
