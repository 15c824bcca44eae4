"""Benchmark the FFU of the default job (keystone-only 2024.1 -> 2025.2, 1ctlr) on the sandbox virthost.

    python bench/ffu.py [-w WS] [--keep] [--out bench/results/ffu.json]

Without ``-w`` a fresh lab is brought up to the ``resources`` phase first (timed too) and destroyed
at the end unless ``--keep``. Measures: the ``ffu`` phase; per release and step its seconds and
status; the control-plane downtime the poller saw; the rerun loop a developer uses
(``ffulab ffu --from-release <last intermediate> --from-step 8``: revert to the snapshot after the
release before, then steps 1-8 and on). Needs root and a lab at N (``-w``) or the caches of a
previous run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchlib import ffulab, header, state_of, write

UP_TO_RESOURCES = "virthost,image,provision,bmc,undercloud,overcloud,resources"


def ffu_figures(state: dict[str, Any]) -> dict[str, Any]:
    ffu = state["ffu"]
    per_release: dict[str, dict[str, Any]] = {}
    for key, step in ffu["steps"].items():
        release, number = key.split("/")
        per_release.setdefault(release, {})[number] = {"seconds": step["seconds"], "status": step["status"]}
    downtime = ffu.get("downtime") or {}
    return {
        "phase_seconds": state["phases"]["ffu"]["seconds"],
        "steps": per_release,
        "release_seconds": {
            release: round(sum(s["seconds"] for s in steps.values()), 1)
            for release, steps in per_release.items()
        },
        "downtime_seconds": {api: record["seconds"] for api, record in downtime.items()},
        "downtime_windows": {api: len(record["windows"]) for api, record in downtime.items()},
        "downtime_samples": {api: record["samples"] for api, record in downtime.items()},
        "before": ffu.get("before"),
        "after": ffu.get("after"),
        "resources_verified": state.get("resources", {}).get("verified"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-w", "--working-dir", type=Path, help="a lab deployed at N (default: a fresh one)")
    parser.add_argument("--keep", action="store_true", help="keep the fresh lab")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ffu.json"))
    args = parser.parse_args()

    results: dict[str, Any] = header("ffu-keystone-only (keystone-only, 1ctlr, 2024.1 -> 2025.2)")
    with tempfile.TemporaryDirectory(prefix="ffulab-bench-ffu-") as tmp:
        workspace = (args.working_dir or Path(tmp) / "ws").resolve()
        try:
            if not args.working_dir:
                results["up_to_resources_seconds"] = ffulab(
                    "run", "-w", str(workspace), "-t", UP_TO_RESOURCES
                )
            results["ffu_seconds"] = ffulab("ffu", "-w", str(workspace))
            state = state_of(workspace)
            results["ffu"] = ffu_figures(state)
            chain = state["ffu"]["chain"]
            rerun = ["ffu", "-w", str(workspace), "--from-release", chain[-2], "--from-step", "8"]
            results["rerun_from_step_8"] = {"release": chain[-2], "seconds": ffulab(*rerun)}
            results["rerun_from_step_8"]["reverted_to"] = state_of(workspace).get("last_revert")
        finally:
            if not args.working_dir and not args.keep:
                results["destroy_seconds"] = ffulab("destroy", "-w", str(workspace))
    write(args.out, results)


if __name__ == "__main__":
    main()
