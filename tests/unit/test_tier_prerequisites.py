"""The functional and e2e tiers, asked for (CI=true, their tox env), fail when a prerequisite is missing.

Each case runs ``pytest tests/<tier>`` in a subprocess with a small plugin that makes ``os.geteuid``
answer what the case needs and skips every test before its fixtures: nothing of the tier really runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = """
import os

import pytest

os.geteuid = lambda: int(os.environ["FAKE_EUID"])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pytest.skip("run by the unit tier: no test of this tier runs for real")
"""


def run_tier(tmp_path: Path, tier: str, euid: int, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fake_machine.py").write_text(PLUGIN)
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "TOX_ENV_NAME", "PYTEST_ADDOPTS")}
    environ.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]), FAKE_EUID=str(euid), HOME=str(tmp_path), **env
    )
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "fake_machine",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
    ]
    return subprocess.run(
        [*argv, "-q", f"tests/{tier}"], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("tier", ["functional", "e2e"])
def test_in_ci_an_unprivileged_run_fails_the_tier_naming_root(tier, tmp_path):
    result = run_tier(tmp_path, tier, euid=1000, CI="true")
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the {tier} tier passed without root in CI:\n{output}"
    assert f"the {tier} tier was asked for" in output and "needs root (running as uid 1000)" in output, output


def test_under_its_tox_env_a_missing_tool_fails_the_tier_naming_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_tier(tmp_path, "functional", euid=0, TOX_ENV_NAME="functional", PATH=str(empty))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "mmdebstrap" in output and "qemu-system-x86_64" in output and "on PATH" in output, output
    assert "root (running as uid" not in output, "root is there: not named"


def test_by_hand_without_ci_an_unprivileged_run_still_skips(tmp_path):
    result = run_tier(tmp_path, "functional", euid=1000)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "asked for" not in output
