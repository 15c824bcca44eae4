"""Benchmark the undercloud and overcloud phases (keystone-only at release N) on the sandbox virthost.

    python bench/deploy.py [--skip-cold] [--out bench/results/deploy.json]

Measures: the lab's artifacts built cold (a private, empty artifact and uv cache; the build roots
come from the user's cache) and cached; ``ffulab run -t virthost,image,provision,bmc``; the
undercloud phase cold (mirror filled) and again (nothing to send); the overcloud deploy with where
its time goes (each task, and the timed steps inside the role scripts) and a second, idempotent
run; then destroys the lab. Needs root, the Debian mirror and PyPI (cold build).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import ffulab, header, log, state_of, write

from ffulab.artifacts import ensure_release_artifacts
from ffulab.artifacts.roots import builder_recipe, ensure_root, runtime_recipe
from ffulab.config.resolve import resolve
from ffulab.deploy.mirror import MIRROR_DIR, sync_mirror

TAGS = "virthost,image,provision,bmc"
NO_SNAPSHOTS = ["-e", "settings.snapshots.auto=false"]


def artifacts_timing(cold: bool) -> dict[str, Any]:
    resolved = resolve()
    image = resolved.config.image
    result: dict[str, Any] = {}
    if cold:
        builder = ensure_root(builder_recipe(image.suite, image.mirror), progress=log)
        runtime = ensure_root(runtime_recipe(image.suite, image.mirror), progress=log)
        with tempfile.TemporaryDirectory(prefix="ffulab-bench-artifacts-") as cache:
            started = time.monotonic()
            built = ensure_release_artifacts(
                resolved, log, cache_dir=Path(cache), builder=builder, runtime=runtime
            )
            result["cold_seconds"] = round(time.monotonic() - started, 1)
            result["cold_each"] = {f"{a.name}-{a.version}": a.seconds for a in built}
    started = time.monotonic()
    cached = ensure_release_artifacts(resolved, log)
    result["first_call_default_cache_seconds"] = round(time.monotonic() - started, 1)
    result["built_in_default_cache"] = [f"{a.name}-{a.version}" for a in cached if a.built]
    started = time.monotonic()
    cached = ensure_release_artifacts(resolved, log)
    result["cached_seconds"] = round(time.monotonic() - started, 2)
    result["artifacts"] = [
        {"name": a.name, "version": a.version, "series": a.series, "mib": round(a.size / 2**20, 1)}
        for a in cached
    ]
    return result


def ssh_tar_timing(workspace: Path, index: dict[str, Any]) -> dict[str, Any]:
    """The remote-virthost path: one artifact removed from the undercloud, sent again as a tar over SSH."""
    entry = index["artifacts"][1]
    subprocess.run(
        [sys.executable, "-m", "ffulab", "ssh", "-w", str(workspace), "undercloud", "--",
         "rm", "-f", f"{MIRROR_DIR}/{entry['file']}"],
        check=True,
    )  # fmt: skip
    files = {a["file"]: artifact_path(a) for a in index["artifacts"]}
    sync = sync_mirror(workspace, index, files, log, serve=None)
    return {"file": entry["file"], "mib": round(sync.bytes_sent / 2**20, 1), "seconds": sync.seconds,
            "mib_per_s": round(sync.bytes_sent / 2**20 / sync.seconds, 1), "method": sync.method}  # fmt: skip


def artifact_path(entry: dict[str, Any]) -> Path:
    resolved = resolve()
    for artifact in ensure_release_artifacts(resolved):
        if artifact.series == entry["series"] and artifact.name == entry["name"]:
            return artifact.path
    raise LookupError(entry["file"])


def where_time_goes(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "tasks": [
            {
                "host": t["host"],
                "task": t["task"],
                "seconds": round(t["seconds"] or 0, 1),
                "changed": t["changed"],
            }
            for t in record.get("tasks", [])
        ],
        "script_steps": record.get("steps", []),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--skip-cold", action="store_true", help="do not build the artifacts in an empty cache"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/deploy.json"))
    args = parser.parse_args()

    results: dict[str, Any] = header("ffu-keystone-only (keystone-only, 1ctlr, overcloud 2024.1)")
    results["artifacts"] = artifacts_timing(cold=not args.skip_cold)
    with tempfile.TemporaryDirectory(prefix="ffulab-bench-deploy-") as tmp:
        workspace = Path(tmp) / "ws"
        run = ["run", "-w", str(workspace), *NO_SNAPSHOTS]
        try:
            results["lab_up_seconds"] = ffulab(*run, "-t", TAGS)
            results["lab_phase_seconds"] = {
                name: phase.get("seconds") for name, phase in state_of(workspace)["phases"].items()
            }

            results["undercloud_seconds"] = ffulab(*run, "-t", "undercloud")
            undercloud = state_of(workspace)["undercloud"]
            results["undercloud"] = {
                "phase_seconds": state_of(workspace)["phases"]["undercloud"]["seconds"],
                "timings": undercloud["timings"],
                "mirror": {k: v for k, v in undercloud["sync"].items() if k not in ("kept",)},
                "script_steps": undercloud["steps"],
            }
            results["mirror_over_ssh"] = ssh_tar_timing(workspace, undercloud["mirror"]["index"])
            results["undercloud_again_seconds"] = ffulab(*run, "-t", "undercloud")
            again = state_of(workspace)["undercloud"]
            results["undercloud_again"] = {
                "timings": again["timings"],
                "sent": again["sync"]["sent"],
                "changed": again["changed"],
            }

            results["overcloud_seconds"] = ffulab(*run, "-t", "overcloud")
            state = state_of(workspace)
            results["overcloud"] = {
                "phase_seconds": state["phases"]["overcloud"]["seconds"],
                "playbook_seconds": state["overcloud"]["seconds"],
                "changed": state["overcloud"]["changed"],
                **where_time_goes(state["overcloud"]),
            }
            results["overcloud_again_seconds"] = ffulab(*run, "-t", "overcloud")
            state = state_of(workspace)
            results["overcloud_again"] = {
                "phase_seconds": state["phases"]["overcloud"]["seconds"],
                "changed": state["overcloud"]["changed"],
                **where_time_goes(state["overcloud"]),
            }
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "ffulab", "ssh", "-w", str(workspace), "undercloud", "--",
                 "openstack", "--os-cloud", "overcloud", "token", "issue", "-f", "value", "-c", "expires"],
                check=True, capture_output=True,
            )  # fmt: skip
            results["openstack_token_issue_on_undercloud_seconds"] = round(time.monotonic() - started, 1)
        finally:
            results["destroy_seconds"] = ffulab("destroy", "-w", str(workspace))
    write(args.out, results)


if __name__ == "__main__":
    main()
