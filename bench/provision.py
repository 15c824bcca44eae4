"""Benchmark provisioning on the sandbox virthost; writes JSON.

    python bench/provision.py [--cold] [--nodes 1ctlr_1comp] [--out bench/results/provision.json]

Measures the guest image build (cold with --cold: a private, empty image cache; then a
cached call), each phase of ``ffulab run -t virthost,image,provision,bmc``, seconds from
start/power-on to SSH per node, and disk used per node overlay; then destroys the lab.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ffulab(*args: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "ffulab", *args], check=True, env=env)
    return round(time.monotonic() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold", action="store_true", help="build the image in an empty private cache")
    parser.add_argument("--nodes", default="1ctlr_1comp")
    parser.add_argument("--out", type=Path, default=Path("bench/results/provision.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ffulab-bench-") as tmp:
        env = dict(os.environ)
        if args.cold:
            env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        workspace = Path(tmp) / "ws"
        small = ["-e", "nodes.undercloud.memory=1536"]
        run = ["run", "-w", str(workspace), "-N", args.nodes, *small]
        results: dict = {"nodes": args.nodes, "cold_cache": args.cold}
        try:
            results["run_seconds"] = ffulab(*run, "-t", "virthost,image,provision,bmc", env=env)
            state = json.loads((workspace / "state.json").read_text())
            results["phase_seconds"] = {name: p.get("seconds") for name, p in state["phases"].items()}
            results["image_seconds_first_call"] = state["phases"]["image"]["seconds"]
            results["image_seconds_cached_call"] = ffulab(*run, "-t", "image", env=env)
            results["ssh_seconds_per_node"] = state.get("ssh_seconds", {})
            results["overlay_bytes_per_node"] = {
                disk.stem: disk.stat().st_blocks * 512
                for disk in sorted((workspace / "disks").glob("*.qcow2"))
            }
        finally:
            results["destroy_seconds"] = ffulab("destroy", "-w", str(workspace), env=env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
