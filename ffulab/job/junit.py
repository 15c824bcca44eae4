"""``junit.xml``: one file a CI system reads, merging ffulab's own phases and FFU steps (as test cases)
with the Tempest and service-check JUnit files of the baseline and final validations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

JUNIT_FILE = "junit.xml"
COUNTED = ("tests", "failures", "errors", "skipped")


def _case(
    suite: ET.Element, classname: str, name: str, status: str, seconds: float | None, message: str = ""
):
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds or 0:.3f}")
    if status == "failed":
        ET.SubElement(case, "failure", message=(message or "failed")[:500]).text = message or None
    elif status != "done":
        ET.SubElement(case, "skipped", message=status)


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


def _ffulab_suites(summary: dict[str, Any]) -> list[ET.Element]:
    phases = ET.Element("testsuite", name="ffulab.phases")
    for row in summary["phases"]:
        _case(phases, "ffulab.phases", row["name"], row["status"], row["seconds"], row.get("error") or "")
    if summary["error"] and not any(row["status"] == "failed" for row in summary["phases"]):
        _case(phases, "ffulab.phases", "run", "failed", 0, summary["error"])
    ffu = ET.Element("testsuite", name="ffulab.ffu")
    for row in summary["ffu_steps"]:
        name = f"final deploy at {row['release']}" if row["final"] else f"step {row['step']} {row['title']}"
        _case(ffu, f"ffulab.ffu.{row['release']}", name, row["status"], row["seconds"])
    suites = [phases, ffu]
    verified = summary["resources"]["verified"]
    if verified is not None:
        resources = ET.Element("testsuite", name="ffulab.resources")
        failed = verified.get("failed") or []
        status = "failed" if failed else "done"
        message = "did not survive the FFU: " + ", ".join(map(str, failed)) if failed else ""
        _case(
            resources,
            "ffulab.resources",
            f"verified at {verified.get('release')}",
            status,
            verified.get("seconds"),
            message,
        )
        suites.append(resources)
    return suites


def _external_suites(path: Path, prefix: str) -> list[ET.Element]:
    """The test suites of one JUnit file, renamed ``<prefix>.<name>``; an unreadable file is one error."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        suite = ET.Element("testsuite", name=prefix)
        case = ET.SubElement(suite, "testcase", classname=prefix, name=path.name, time="0")
        ET.SubElement(case, "error", message=f"unreadable JUnit file: {exc}")
        return [suite]
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        suite.set("name", f"{prefix}.{suite.get('name') or path.stem}")
        _count(suite)
    return suites


def build_junit(summary: dict[str, Any], artifacts: Path) -> ET.Element:
    """The merged document; validation JUnit paths in ``summary`` are relative to ``artifacts``."""
    suites = _ffulab_suites(summary)
    for run, record in summary["validation"].items():
        for kind, check in record["checks"].items():
            if check.get("junit"):
                suites += _external_suites(artifacts / check["junit"], f"{kind}.{run}")
    root = ET.Element("testsuites", name=f"ffulab {summary['job']['name'] or ''}".strip())
    for suite in suites:
        if suite.get("tests") is None:
            _count(suite)
        root.append(suite)
    for key in COUNTED:
        root.set(key, str(sum(int(suite.get(key) or 0) for suite in suites)))
    root.set("time", f"{sum(float(suite.get('time') or 0) for suite in suites):.3f}")
    return root


def write_junit(summary: dict[str, Any], artifacts: Path) -> Path:
    root = build_junit(summary, artifacts)
    ET.indent(root)
    path = artifacts / JUNIT_FILE
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
