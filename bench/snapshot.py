"""Measure lab snapshots on a 2-node lab (undercloud + controller): create, revert, revert to usable -> JSON.

Usage: python bench/snapshot.py [OUTPUT] [--workspace WS] [--rounds N] [-e KEY=VALUE ...]
(default OUTPUT bench/results/snapshot.json; needs root). Without --workspace it brings up a
1ctlr lab (phases virthost,image,provision,bmc) in a temporary workspace and destroys it at the
end, whatever happens. Every revert variant runs N times: in-place (qemu loadvm in the running
process) or restart (libvirt revertToSnapshot), domains in parallel threads or one after the
other, neighbour flush on or off. Before each revert a file is written in every guest; the
revert must make it disappear.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ffulab import snapshot
from ffulab.provision.access import ssh_argv
from ffulab.snapshot import domains
from ffulab.state import State

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("in-place, parallel, flush", {"method": domains.IN_PLACE, "threads": True, "flush_neighbours": True}),
    (
        "in-place, parallel, no flush",
        {"method": domains.IN_PLACE, "threads": True, "flush_neighbours": False},
    ),
    ("in-place, sequential, flush", {"method": domains.IN_PLACE, "threads": False, "flush_neighbours": True}),
    ("restart, parallel, flush", {"method": domains.RESTART, "threads": True, "flush_neighbours": True}),
    ("restart, parallel, no flush", {"method": domains.RESTART, "threads": True, "flush_neighbours": False}),
    ("restart, sequential, flush", {"method": domains.RESTART, "threads": False, "flush_neighbours": True}),
]
MARKER = "/root/bench-snapshot-marker"


def ffulab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ffulab", *args], check=True, stdout=sys.stderr)


def ssh(workspace: Path, node: str, command: str) -> str:
    result = subprocess.run(
        ssh_argv(workspace, node, [command]), capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def bench(workspace: Path, rounds: int, pause: float) -> dict[str, Any]:
    state = State.load(workspace)
    nodes = [n["name"] for n in state.get("layout")["nodes"]]
    creates = []
    for index in range(rounds):
        outcome = snapshot.create(state, f"bench-create-{index}")
        deleted = time.monotonic()
        snapshot.delete(state, f"bench-create-{index}")
        creates.append({**outcome.seconds, "delete": round(time.monotonic() - deleted, 2)})
        print(f"create {index}: {outcome.seconds}", file=sys.stderr)
    base = snapshot.create(state, "bench")
    sizes = {n["name"]: n["vm_state_bytes"] for n in base.record["nodes"]}
    reverts: dict[str, list[dict[str, Any]]] = {}
    try:
        for label, options in VARIANTS:
            reverts[label] = []
            for index in range(rounds):
                for node in nodes:
                    ssh(workspace, node, f"touch {MARKER}")
                time.sleep(pause)  # so that the clocks have something to catch up
                outcome = snapshot.revert(state, "bench", snapshot.Options(**options))
                left = [node for node in nodes if ssh(workspace, node, f"test -e {MARKER} && echo here || :")]
                if left:
                    raise SystemExit(f"{label}: {MARKER} still there on {left}: the revert did nothing")
                reverts[label].append({"seconds": outcome.seconds, "nodes": outcome.nodes})
                print(f"{label} {index}: {outcome.seconds}", file=sys.stderr)
    finally:
        snapshot.delete(state, "bench")
    summary = {
        label: {
            "revert": stats([r["seconds"]["reverted"] for r in runs]),
            "usable": stats([r["seconds"]["usable"] for r in runs]),
            "ssh_per_node": {n: stats([r["nodes"][n]["ssh"] for r in runs]) for n in nodes},
            "clock_offset_after": {n: stats([r["nodes"][n]["offset"] for r in runs]) for n in nodes},
            "failed_ssh_attempts": sum(r["nodes"][n]["attempts"] - 1 for r in runs for n in nodes),
            "ssh_errors": sorted(
                {e for r in runs for n in nodes for e in r["nodes"][n].get("ssh_errors", [])}
            ),
        }
        for label, runs in reverts.items()
    }
    return {
        "nodes": {n["name"]: {"memory_mib": n["memory"]} for n in state.get("layout")["nodes"]},
        "vm_state_bytes": sizes,
        "create": {
            key: stats([c[key] for c in creates])
            for key in ("pause", "snapshots", "create", "clocks", "delete")
        },
        "revert": summary,
        "runs": {"create": creates, "revert": reverts},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="bench/results/snapshot.json", type=Path)
    parser.add_argument("--workspace", type=Path, help="use this existing lab instead of bringing one up")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--pause", type=float, default=5, help="seconds between writing and reverting")
    parser.add_argument("-e", dest="extra", action="append", default=[], help="config override for a new lab")
    args = parser.parse_args()

    own = args.workspace is None
    workspace = args.workspace or Path(tempfile.mkdtemp(prefix="bench-snapshot-")) / "ws"
    load_before = os.getloadavg()
    try:
        if own:
            overrides = [item for extra in args.extra for item in ("-e", extra)]
            ffulab("run", "-w", str(workspace), "-N", "nodes/1ctlr.yml", *overrides,
                   "-t", "virthost,image,provision,bmc")  # fmt: skip
        measured = bench(workspace.resolve(), args.rounds, args.pause)
    finally:
        if own and (workspace / "state.json").exists():
            ffulab("destroy", "-w", str(workspace))
    others = subprocess.run(["pgrep", "-c", "qemu-system"], capture_output=True, text=True).stdout.strip()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "qemu_processes_at_end": int(others or 0),
        "target_revert_seconds": 3,
        **measured,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"create": result["create"], "revert": result["revert"]}, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"bench done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    sys.exit(code)
