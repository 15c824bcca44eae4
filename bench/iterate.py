"""Benchmark the iteration loop: a step made to fail, fixed, rerun; seconds from the rerun command to
the failed step running again.

    python bench/iterate.py -w WS [--release R] [--step S] [--out bench/results/iterate.json]

WS is a lab after its FFU (e.g. ``ffulab job run --keep``), with its automatic snapshots. The step is
made to fail in a copy of the data tree (a task failing at release R step S, first of keystone's FFU
tasks), the FFU is rerun from R step 1 with that copy (``FFULAB_DATA_DIR``) and stops at S; then with
the shipped roles ("fixed") the rerun command ffulab printed runs, and the seconds until its progress
says that step runs again are measured, with the whole rerun's. Needs root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import header, log, state_of, write

from ffulab.paths import data_root

FAILING = """
- name: A failure made by bench/iterate.py at {release} step {step}
  ansible.builtin.raw: exit 1
  when: step | int == {step} and release == "{release}"
"""
RERUN = re.compile(r"rerun with: (?P<command>ffulab ffu .*?)\s*$", re.MULTILINE)


def broken_data(root: Path, release: str, step: int) -> Path:
    copy = root / "data"
    shutil.copytree(data_root(), copy, ignore=shutil.ignore_patterns(".git", ".venv", "tests", "*.pyc"))
    tasks = copy / "roles" / "keystone" / "tasks" / "ffu.yml"
    text = tasks.read_text()
    tasks.write_text(text.replace("---\n", "---" + FAILING.format(release=release, step=step), 1))
    return copy


def timed(argv: list[str], env: dict[str, str], marker: str | None = None) -> dict[str, Any]:
    """Run ``argv``; its exit, its seconds, and when ``marker`` first appeared in its output."""
    log(" ".join(argv[2:]))
    started = time.monotonic()
    seen = None
    lines = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            sys.stderr.write(line)
            if marker and seen is None and marker in line:
                seen = round(time.monotonic() - started, 1)
    return {
        "exit_code": run.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "marker_seconds": seen,
        "output": "".join(lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-w", "--working-dir", type=Path, required=True, help="a lab after its FFU")
    parser.add_argument("--release", help="default: the last intermediate release of the chain")
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("bench/results/iterate.json"))
    args = parser.parse_args()
    workspace = args.working_dir.resolve()
    chain = state_of(workspace)["ffu"]["chain"]
    release = args.release or chain[-2]
    results: dict[str, Any] = header(f"iterate on {workspace.name}: {release} step {args.step}")
    ffulab = [sys.executable, "-m", "ffulab"]
    with tempfile.TemporaryDirectory(prefix="ffulab-bench-iterate-") as tmp:
        env = {**os.environ, "FFULAB_DATA_DIR": str(broken_data(Path(tmp), release, args.step))}
        failing = timed(
            [*ffulab, "ffu", "-w", str(workspace), "--from-release", release, "--from-step", "1"], env
        )
        if failing["exit_code"] != 1 or not (found := RERUN.search(failing["output"])):
            raise SystemExit(
                f"the made failure did not stop the FFU with a rerun command (exit {failing['exit_code']})"
            )
        rerun = found["command"].split()
        fixed = {k: v for k, v in os.environ.items() if k != "FFULAB_DATA_DIR"}
        marker = f"{release} step {args.step} on"
        again = timed([*ffulab, *rerun[1:]], fixed, marker)
    results.update(
        release=release,
        step=args.step,
        rerun_command=" ".join(rerun),
        failing_run_seconds=failing["seconds"],
        rerun_to_failed_step_seconds=again["marker_seconds"],
        rerun_seconds=again["seconds"],
        rerun_exit_code=again["exit_code"],
        rolling_snapshot=any(r["name"] == "ffu-step" for r in state_of(workspace).get("snapshots", [])),
    )
    write(args.out, results)


if __name__ == "__main__":
    main()
