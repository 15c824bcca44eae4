"""Check a run's artifacts the way CI and a person consume them: junit.xml parses with its test cases,
summary.json has every field, report.html is self-contained, its links resolve, and it renders in
headless Chromium without a console message; the screenshot is kept to look at.

Used by the e2e test on a real run and by the unit tests on fake artifacts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from ffulab.job.artifacts import SUMMARY_FILE
from ffulab.job.junit import JUNIT_FILE
from ffulab.job.report_html import REPORT_FILE

SUMMARY_FIELDS = (
    "job",
    "result",
    "reasons",
    "error",
    "started",
    "ended",
    "versions",
    "phases",
    "ffu_steps",
    "downtime",
    "dataplane",
    "warnings",
    "checks",
    "update",
    "validation",
    "resources",
    "regressions",
    "not_run",
    "counts",
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER_TIMEOUT = 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_junit(artifacts: Path) -> list[str]:
    try:
        root = ET.parse(artifacts / JUNIT_FILE).getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"{JUNIT_FILE}: does not parse: {exc}"]
    problems = []
    if root.tag != "testsuites":
        problems.append(f"{JUNIT_FILE}: root element is <{root.tag}>, not <testsuites>")
    cases = root.findall("testsuite/testcase")
    if not cases or int(root.get("tests", -1)) != len(cases):
        problems.append(f"{JUNIT_FILE}: {len(cases)} test case(s), the root says {root.get('tests')}")
    if not root.findall("testsuite[@name='ffulab.phases']/testcase"):
        problems.append(f"{JUNIT_FILE}: no test case for ffulab's phases")
    return problems


def check_summary(artifacts: Path) -> list[str]:
    try:
        summary = json.loads((artifacts / SUMMARY_FILE).read_text())
    except (OSError, ValueError) as exc:
        return [f"{SUMMARY_FILE}: does not load: {exc}"]
    problems = [f"{SUMMARY_FILE}: no '{key}'" for key in SUMMARY_FIELDS if key not in summary]
    if summary.get("result") not in ("pass", "fail"):
        problems.append(f"{SUMMARY_FILE}: result is {summary.get('result')!r}, not pass or fail")
    if not (summary.get("job") or {}).get("name"):
        problems.append(f"{SUMMARY_FILE}: no job name")
    return problems


class _References(HTMLParser):
    """What a page loads (must be nothing outside it) and what it links to (must exist)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("src") or tag == "link":
            self.loads.append(f"<{tag}> {values.get('src') or values.get('href')}")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def check_report_offline(artifacts: Path) -> list[str]:
    """report.html needs nothing but itself, and every link in it points at a file of the artifacts."""
    try:
        html = (artifacts / REPORT_FILE).read_text()
    except OSError as exc:
        return [f"{REPORT_FILE}: {exc}"]
    references = _References()
    references.feed(html)
    problems = [f"{REPORT_FILE}: loads {what}" for what in references.loads]
    if "url(" in html or "@import" in html:
        problems.append(f"{REPORT_FILE}: its style loads something (url() or @import)")
    problems += [
        f"{REPORT_FILE}: link to {href} goes nowhere"
        for href in references.links
        if "://" in href or not (artifacts / href).is_file()
    ]
    return problems


def browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def render_in_browser(artifacts: Path, screenshot: Path) -> list[str]:
    """Render report.html in headless Chromium into ``screenshot``; any console message is a problem
    (the page has no script, so there should be none)."""
    executable = browser()
    if executable is None:
        return [f"no headless browser found ({', '.join(BROWSERS)}): apt-get install chromium"]
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="ffulab-chromium-") as profile:
        argv = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2400",
            f"--screenshot={screenshot}",
            (artifacts / REPORT_FILE).resolve().as_uri(),
        ]
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return [f"{executable} did not render {REPORT_FILE} within {BROWSER_TIMEOUT}s"]
    problems = [
        f"{REPORT_FILE}: browser console: {line.split(']', 1)[-1].strip()}"
        for line in result.stderr.splitlines()
        if ":CONSOLE" in line
    ]
    if not screenshot.is_file() or not screenshot.read_bytes().startswith(PNG_SIGNATURE):
        problems.append(
            f"{executable} wrote no screenshot (exit {result.returncode}): {result.stderr[-300:]}"
        )
    return problems


def check_artifacts(artifacts: Path, screenshot: Path | None = None) -> list[str]:
    """Every problem found with the run's artifacts; empty when CI and a person can use them."""
    problems = check_junit(artifacts) + check_summary(artifacts) + check_report_offline(artifacts)
    return problems + render_in_browser(artifacts, screenshot or artifacts / "report.png")
