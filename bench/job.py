"""Benchmark a job as CI runs it: ``ffulab job run`` wall time, cold and warm, by phase, by FFU step and
by service within each step, each API's downtime, each workload's data plane.

    python bench/job.py [--job JOB] [--skip-cold] [--warm N] [--reuse N] [--out bench/results/<job>.json]
    python bench/job.py --recorded WS [--out ...]

Cold: every cache empty (``XDG_CACHE_HOME`` points at a new directory: guest image, service
artifacts, build roots, Tempest's venv and uv's cache are all made again, as on a fresh machine).
Warm: the same job again with the caches the cold run filled (``--skip-cold``: the user's own
caches). Each run is a fresh lab, destroyed by the job at its end. Per run: the job's wall time
and exit code, every phase's seconds (report included, from the job's log), the FFU steps' seconds,
the control-plane downtime and the data plane's loss and outages (from summary.json). ``--reuse N``:
the job with ``--reuse`` in one workspace N + 1 times, the first deploying the lab it keeps, the
others starting from its ``overcloud-deployed`` snapshot (destroyed at the end). Needs root, the Debian
mirror and PyPI (cold). ``--recorded WS``: no run, the same figures read from the last ``ffulab job run``
of workspace WS (a job of hours is not run twice to be measured; its exit code is not known then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import header, log, write

from ffulab.config.resolve import default_job

PHASE_DONE = re.compile(r"phase (?P<name>\w+): done in (?P<seconds>[0-9.]+)s")
"""The pipeline's log line for a finished phase (ffulab/pipeline.py)."""
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ", re.MULTILINE)
"""A log line's time (ffulab/logs.py's format): seconds, milliseconds."""


def by_service(steps: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``service action`` -> seconds per release, from the timings the step scripts reported."""
    found: dict[str, dict[str, float]] = {}
    for step in steps:
        for name, seconds in (step.get("timings") or {}).items():
            _, _, what = name.partition(" ")  # "<host> <service> <action>"
            found.setdefault(what, {})[f"{step['release']}/{step['step']}"] = seconds
    return found


def job_run(job: str, workspace: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """One ``ffulab job run`` of ``job`` in ``workspace`` (removed after it unless ``--reuse`` kept it)."""
    argv = [sys.executable, "-m", "ffulab", "job", "run", job, "-w", str(workspace), *extra]
    log(" ".join(argv[2:]))
    logs_before = set((workspace / "logs").glob("*-job.log")) if (workspace / "logs").is_dir() else set()
    started = time.monotonic()
    code = subprocess.run(argv, env=env, check=False).returncode
    wall = round(time.monotonic() - started, 1)
    result = read_run(workspace, max(set((workspace / "logs").glob("*-job.log")) - logs_before), code, wall)
    if "--reuse" not in extra:
        shutil.rmtree(workspace)
    return result


def read_run(workspace: Path, job_log: Path, code: int | None, wall: float) -> dict[str, Any]:
    """The figures of one finished job run: its log's phases, its summary's steps, downtime, data plane."""
    phases = {m["name"]: float(m["seconds"]) for m in PHASE_DONE.finditer(job_log.read_text())}
    summary = json.loads((workspace / "artifacts" / "summary.json").read_text())
    result = {
        "exit_code": code,
        "result": summary["result"],
        "wall_seconds": wall,
        "phase_seconds": phases,
        "destroy_and_rest_seconds": round(wall - sum(phases.values()), 1),
        "ffu_steps": {f"{s['release']}/{s['step']}": s["seconds"] for s in summary["ffu_steps"]},
        "ffu_service_steps": by_service(summary["ffu_steps"]),
        "downtime_seconds": {api: record["seconds"] for api, record in (summary["downtime"] or {}).items()},
        "dataplane": summary.get("dataplane"),
        "checks": summary.get("checks"),
        "reasons": summary["reasons"],
    }
    log(f"{summary['result']} in {wall} s: {phases}")
    return result


def recorded(workspace: Path) -> dict[str, Any]:
    """The last job run of ``workspace`` as :func:`job_run` reports one. Its wall time spans the job's
    log, first line to last: the summary's own span ends before the report and the lab's destroy."""
    summary = json.loads((workspace / "artifacts" / "summary.json").read_text())
    job_log = max((workspace / "logs").glob("*-job.log"))
    first, *_, last = [
        time.mktime(time.strptime(seconds, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
        for seconds, millis in LOG_TIME.findall(job_log.read_text())
    ]
    wall = round(last - first, 1)
    return {
        "job": summary["job"]["name"],
        "workspace": str(workspace),
        **read_run(workspace, job_log, None, wall),
    }


def fresh(root: Path) -> Path:
    return root / f"ws-{time.strftime('%H%M%S')}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--job", default=default_job(), help="the job to run (default: the default job)")
    parser.add_argument("--skip-cold", action="store_true", help="warm runs only, with the user's caches")
    parser.add_argument("--warm", type=int, default=1, help="warm runs (default 1)")
    parser.add_argument(
        "--reuse", type=int, default=0, help="runs started from a --reuse run's lab (default 0)"
    )
    parser.add_argument("--out", type=Path, help="default bench/results/<job>.json")
    parser.add_argument("--recorded", type=Path, metavar="WS", help="read the last job run of WS, run none")
    args = parser.parse_args()

    if args.recorded:
        run = recorded(args.recorded)
        write(args.out or Path(f"bench/results/{run['job']}.json"), {**header(run["job"]), "recorded": run})
        return
    results: dict[str, Any] = header(args.job)
    with tempfile.TemporaryDirectory(prefix="ffulab-bench-job-") as tmp:
        root = Path(tmp)
        env = dict(os.environ)
        if not args.skip_cold:
            env["XDG_CACHE_HOME"] = str(root / "cache")
            results["cold"] = job_run(args.job, fresh(root), env)
        results["warm"] = [job_run(args.job, fresh(root), env) for _ in range(args.warm)]
        if args.reuse:
            kept = root / "ws-reuse"
            try:
                results["reuse_deploy"] = job_run(args.job, kept, env, "--reuse")
                results["reuse"] = [job_run(args.job, kept, env, "--reuse") for _ in range(args.reuse)]
            finally:
                subprocess.run(
                    [sys.executable, "-m", "ffulab", "destroy", "-w", str(kept)], env=env, check=False
                )
    write(args.out or Path(f"bench/results/{args.job}.json"), results)


if __name__ == "__main__":
    main()
