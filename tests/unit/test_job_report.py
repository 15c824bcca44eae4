"""report.html: one self-contained page with the timeline, the downtime band, the tests and the logs."""

from __future__ import annotations

import itertools
import re

import pytest
from job_fakes import TEMPEST, fake_state, fake_workspace, summary_of

from ffulab.job.artifacts import write_artifacts
from ffulab.job.check import browser, check_artifacts, check_report_offline
from ffulab.job.timeline import WIDTH, build_timeline, clock
from ffulab.state import State


def _artifacts(tmp_path, error=None, **kwargs):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    fake_workspace(workspace, fake_state(workspace, **kwargs))
    artifacts = workspace / "artifacts"
    summary = write_artifacts(workspace, State.load(workspace), artifacts, error=error)
    return summary, artifacts, (artifacts / "report.html").read_text()


def test_a_regressed_run_reads_as_failed_and_names_the_test(tmp_path):
    _summary, artifacts, html = _artifacts(tmp_path, regress=True)
    assert "<h1>FAIL · ffu-keystone-only</h1>" in html
    assert html.count(TEMPEST[1]) >= 2, "in the regressions list and at the top of the Tempest table"
    assert "2024.1 → 2025.2" in html
    assert check_report_offline(artifacts) == []


def test_the_timeline_has_a_row_per_phase_and_release_and_the_downtime_bands(tmp_path):
    summary, _, html = _artifacts(tmp_path)
    timeline = build_timeline(summary)
    labels = [row.label for row in timeline.rows]
    assert labels[:2] == ["config", "virthost"] and labels[-4:] == [
        "ffu → 2024.2",
        "ffu → 2025.1",
        "final 2025.2",
        "API identity",
    ]
    assert [bar.label for bar in timeline.rows[-4].bars] == [str(step) for step in range(1, 10)]
    assert len(timeline.downtime) == 2 and all(0 <= band.x <= WIDTH for band in timeline.downtime)
    assert len(timeline.rows[-1].bars) == 2, "the API's own row has its two outages"
    assert html.count("<title>identity API down") == 4, "as bands across the rows and in its own row"
    assert "<h1>PASS · ffu-keystone-only</h1>" in html


def test_steps_without_start_times_are_laid_end_to_end_from_the_ffu_phase(tmp_path):
    state = fake_state(tmp_path)
    for step in state["ffu"]["steps"].values():
        del step["started"], step["ended"]
    timeline = build_timeline(summary_of(state))
    bars = [bar for row in timeline.rows if row.kind == "ffu" for bar in row.bars]
    ffu = next(row for row in timeline.rows if row.label == "ffu").bars[0]
    assert bars[0].x == ffu.x
    assert all(later.x >= earlier.x for earlier, later in itertools.pairwise(bars))


def test_a_run_that_failed_early_still_has_a_report_with_the_error_and_logs(tmp_path):
    _summary, artifacts, html = _artifacts(tmp_path, error="phase 'bmc' failed: <no IPMI>", fail_at="bmc")
    assert "<h1>FAIL · ffu-keystone-only</h1>" in html
    assert "phase &#39;bmc&#39; failed: &lt;no IPMI&gt;" in html, "error text is escaped"
    assert "FFU not done" in html
    assert re.search(r'href="logs/undercloud/console.log"', html)
    assert check_report_offline(artifacts) == []


def test_the_final_deploy_shows_its_nodes_in_the_order_they_went_and_the_canary_check(tmp_path):
    state = fake_state(tmp_path)
    final = state["ffu"]["steps"]["2025.2/10"]
    final["runs"] = [
        {"what": "ffu-2025.2-final", "hosts": [node], "started": at, "seconds": seconds, "status": "done"}
        for node, at, seconds in (("ctl-0", 1.0, 90.0), ("compute-0", 2.0, 60.0))
    ] + [
        {
            "what": "canary check",
            "hosts": ["compute-0"],
            "started": 3.0,
            "seconds": 40.0,
            "status": "failed",
            "detail": "",
        },
    ]
    (tmp_path / "ws").mkdir()
    fake_workspace(tmp_path / "ws", state)
    write_artifacts(tmp_path / "ws", State.load(tmp_path / "ws"), tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    order = re.sub(r"<[^>]+>", "", re.search(r'class="runs">(.*?)</td>', html).group(1))
    assert order == "ctl-0 90.0 s → compute-0 60.0 s → check of the canary compute-0 40.0 s"


def test_clock_is_short():
    assert [clock(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


@pytest.mark.skipif(browser() is None, reason="no headless Chromium (apt-get install chromium)")
def test_the_report_renders_in_a_headless_browser_without_console_messages(tmp_path):
    _, artifacts, _ = _artifacts(tmp_path, regress=True)
    assert check_artifacts(artifacts, tmp_path / "report.png") == []
    assert (tmp_path / "report.png").stat().st_size > 20_000, "a page with content, not a blank one"
