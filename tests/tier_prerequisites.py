"""What the functional and e2e tiers need from the machine, and what a missing piece does.

Run by hand, a test whose prerequisite is missing skips, as its module says. When a tier is asked for
(``CI=true``, or its own tox env: tox sets ``TOX_ENV_NAME``), a missing prerequisite fails the whole
tier before any test, naming what is missing: a tier that ran nothing must not pass.
"""

from __future__ import annotations

import os
import shutil

import pytest

FALSE = ("", "0", "false", "no", "off")


def asked_for(tier: str) -> bool:
    """CI says so (``CI`` set to anything but false), or tox runs the tier's own env."""
    return os.environ.get("CI", "").strip().lower() not in FALSE or os.environ.get("TOX_ENV_NAME") == tier


def missing(tools: tuple[str, ...]) -> list[str]:
    """What this machine lacks of root and ``tools``, one phrase each."""
    gaps = []
    if os.geteuid() != 0:
        gaps.append(f"root (running as uid {os.geteuid()})")
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        gaps.append(f"{', '.join(absent)} on PATH (scripts/bootstrap installs them)")
    return gaps


def require(tier: str, tools: tuple[str, ...]) -> None:
    """Stop the session with exit 1 when the tier was asked for and a prerequisite is missing."""
    gaps = missing(tools) if asked_for(tier) else []
    if gaps:
        pytest.exit(
            f"the {tier} tier was asked for (CI or tox -e {tier}) but cannot run here: "
            f"it needs {'; '.join(gaps)}. Run by hand without CI, its tests skip instead.",
            returncode=pytest.ExitCode.TESTS_FAILED,
        )
