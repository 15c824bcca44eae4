"""Run the per-service checks (``tests/services``, pytest + testinfra) against one lab, as JUnit.

The checks find the lab through ``$FFULAB_WORKSPACE`` (see tests/services/conftest.py): its state
says which node runs which service at which release. pytest-xdist spreads them over workers, so the
nodes are checked side by side, and the slow checks (a keystone-manage start-up costs tens of
seconds in a TCG guest) overlap the quick ones.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from ffulab.errors import FfulabError
from ffulab.paths import data_root
from ffulab.validate.stream import stream

WORKSPACE_ENV = "FFULAB_WORKSPACE"
RESULT_LINE = re.compile(r"^\[gw\d+\] \[ *\d+%\] (?P<status>[A-Z]+) (?P<test>\S+::\S+)")
"""pytest -v with xdist: ``[gw0] [ 50%] PASSED tests/services/test_<svc>.py::test_x[node]``."""
NO_TESTS = 5


def services_dir() -> Path:
    return data_root() / "tests" / "services"


def workers(nodes: int) -> int:
    """Two per overcloud node, at most 8: a worker free of its checks steals from a busy one
    (``--dist worksteal``), so keystone-manage's slow start-ups run side by side."""
    return max(2, min(8, 2 * nodes))


def run_services(
    workspace: Path, junit: Path, nodes: int, progress: Callable[[str], None], timeout: float = 1800
) -> None:
    """Run every check of ``tests/services`` against the lab at ``workspace``; write ``junit``.

    Failing checks are not an error here (the JUnit says which); pytest not running them is.
    """
    argv = [
        sys.executable, "-m", "pytest", str(services_dir()), "-v", "-p", "no:cacheprovider",
        "-o", "addopts=", "-o", "junit_family=xunit2", f"--junitxml={junit}",
        "-n", str(workers(nodes)), "--dist", "worksteal", "-rfE", "--tb=short",
    ]  # fmt: skip
    env = {**os.environ, WORKSPACE_ENV: str(workspace)}
    output: list[str] = []

    def on_line(line: str) -> None:
        output.append(line)
        match = RESULT_LINE.search(line)
        if match:
            progress(f"services {match['status']} {match['test'].removeprefix('tests/services/')}")

    code = stream(argv, cwd=data_root(), env=env, on_line=on_line, timeout=timeout, what="service checks")
    if code not in (0, 1) or not junit.is_file():
        tail = "\n".join(output[-20:])
        what = "no check was collected" if code == NO_TESTS else "pytest did not run the checks"
        raise FfulabError(f"service checks: {what} (exit {code}):\n{tail}")
