"""The e2e tier: one run of CI's job (``FFULAB_E2E_JOB``, default the control plane's), shared by the
checks of its artifacts, of its lab, and the resume test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tier_prerequisites import require

CI_JOB = os.environ.get("FFULAB_E2E_JOB", "ffu-keystone-only")
"""What CI runs end to end: chosen by the CI budget (docs/design.md, "The e2e tier")."""
JOB_TIMEOUT = 2 * 3600
TOOLS = ("mmdebstrap", "mkfs.ext4", "qemu-img", "qemu-system-x86_64", "ssh", "ssh-keygen", "socat", "ip")
"""What a job calls on the virthost (scripts/bootstrap installs them)."""


def pytest_configure(config: pytest.Config) -> None:
    """Asked for (CI, tox -e e2e), the tier fails here when root or a tool is missing."""
    require("e2e", TOOLS)


@dataclass
class JobRun:
    returncode: int
    workspace: Path
    artifacts: Path


def ffulab(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ffulab", *args], check=False, **kwargs)


@pytest.fixture(scope="session")
def job(tmp_path_factory) -> Iterator[JobRun]:
    """``ffulab job run`` of CI's job, as CI runs it; the lab kept for the tests, destroyed after."""
    if os.geteuid() != 0:
        pytest.skip("the job needs root (sandbox virthost)")
    root = tmp_path_factory.mktemp("ci-job")
    workspace, artifacts = root / "ws", root / "artifacts"
    argv = ["job", "run", CI_JOB, "-w", str(workspace), "--artifacts", str(artifacts), "--keep"]
    result = ffulab(*argv, timeout=JOB_TIMEOUT)  # progress goes to the CI log as it comes
    yield JobRun(result.returncode, workspace, artifacts)
    ffulab("destroy", "-w", str(workspace))
