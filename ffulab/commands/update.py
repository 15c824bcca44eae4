"""``ffulab update -w WS``: the minor update at N on a deployed lab (phase update), on its own."""

from __future__ import annotations

from pathlib import Path

from ffulab.pipeline import recorded_run, run_phases
from ffulab.ui import console


def update_command(workspace: Path) -> int:
    ctx, log_path = recorded_run(workspace, "update")
    try:
        run_phases(ctx, ["update"])
    finally:
        console.print(f"update phase: {ctx.timings.get('update', 0):.1f}s; log: {log_path}")
    return 0
