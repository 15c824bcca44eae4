"""What every benchmark script shares: a timestamped log on stderr, a timed ``ffulab`` call, the
host's facts, a lab's state, and the JSON written to ``bench/results/``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def ffulab(*args: str) -> float:
    """Run ``ffulab ARGS`` (failing loudly); the seconds it took."""
    started = time.monotonic()
    log(f"ffulab {' '.join(args)}")
    subprocess.run([sys.executable, "-m", "ffulab", *args], check=True)
    return round(time.monotonic() - started, 1)


def header(job: str) -> dict[str, Any]:
    """What every result file starts with: when, on what host, for which job."""
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
        "job": job,
    }


def state_of(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / "state.json").read_text())


def write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
