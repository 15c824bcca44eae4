"""The e2e tier: one run of the default job, shared by the checks of its artifacts and the resume test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tier_prerequisites import require

from ffulab.config.resolve import DEFAULT_JOB

JOB_TIMEOUT = 2 * 3600
TOOLS = ("mmdebstrap", "mkfs.ext4", "qemu-img", "qemu-system-x86_64", "ssh", "ssh-keygen", "socat", "ip")
"""What the default job calls on the virthost (scripts/bootstrap installs them)."""


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
    """``ffulab job run`` of the default job, as CI runs it; the lab kept for the tests, destroyed after."""
    if os.geteuid() != 0:
        pytest.skip("the default job needs root (sandbox virthost)")
    root = tmp_path_factory.mktemp("default-job")
    workspace, artifacts = root / "ws", root / "artifacts"
    argv = ["job", "run", DEFAULT_JOB, "-w", str(workspace), "--artifacts", str(artifacts), "--keep"]
    result = ffulab(*argv, timeout=JOB_TIMEOUT)  # progress goes to the CI log as it comes
    yield JobRun(result.returncode, workspace, artifacts)
    ffulab("destroy", "-w", str(workspace))
