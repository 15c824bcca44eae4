"""Count a JUnit XML file: what Tempest (through subunit2junitxml) and pytest both write.

One reader for both kinds, so the state records Tempest and the service checks the same way and
the report compares baseline and final test by test.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ffulab.errors import FfulabError

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


def test_id(case: ET.Element) -> str:
    """``classname.name``: Tempest's test id (``tempest.api...Class.test_x[id-...]``), pytest's node."""
    classname, name = case.get("classname") or "", case.get("name") or ""
    return f"{classname}.{name}" if classname else name


def status_of(case: ET.Element) -> str:
    """failure or error: failed; skipped (pytest, junitxml) or skip: skipped; nothing: passed."""
    tags = {child.tag for child in case}
    if tags & {"failure", "error"}:
        return FAILED
    if tags & {"skipped", "skip"}:
        return SKIPPED
    return PASSED


def count(path: Path) -> dict[str, Any]:
    """``{"passed", "failed", "skipped", "results": {test_id: status}}`` of the JUnit file at ``path``.

    A test reported twice (pytest: a failing teardown after a passed call) keeps its worst status.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise FfulabError(f"{path}: not a readable JUnit file: {exc}") from None
    results: dict[str, str] = {}
    rank = {PASSED: 0, SKIPPED: 1, FAILED: 2}
    for case in root.iter("testcase"):
        name, status = test_id(case), status_of(case)
        if rank[status] >= rank.get(results.get(name, PASSED), 0):
            results[name] = status
    statuses = list(results.values())
    return {
        PASSED: statuses.count(PASSED),
        FAILED: statuses.count(FAILED),
        SKIPPED: statuses.count(SKIPPED),
        "results": results,
    }
