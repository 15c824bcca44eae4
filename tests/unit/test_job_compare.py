"""``ffulab job compare``: two runs side by side, from their summaries alone."""

from __future__ import annotations

import json
from pathlib import Path

from job_fakes import TEMPEST, fake_state, summary_of

from ffulab.cli import main


def _run(tmp_path: Path, name: str, **kwargs) -> Path:
    summary = summary_of(fake_state(tmp_path / name, **kwargs))
    directory = tmp_path / name / "artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(summary))
    return directory


def test_two_runs_side_by_side_print_and_write_html(tmp_path, capsys):
    a, b = _run(tmp_path, "walk"), _run(tmp_path, "hop", regress=True)
    out_html = tmp_path / "cmp.html"
    assert main(["job", "compare", str(a), str(b), "--html", str(out_html)]) == 0
    out = capsys.readouterr().out
    assert "A: ffu-keystone-only (ffu, 2024.1 -> 2025.2)  [pass]" in out
    assert "B: ffu-keystone-only (ffu, 2024.1 -> 2025.2)  [fail]" in out
    assert "overcloud" in out and "identity" in out
    assert f"tempest: {TEMPEST[1]}: passed -> failed" in out
    assert f"regressions of B:\n  {TEMPEST[1]}" in out
    page = out_html.read_text()
    assert "<h2>Downtime per API</h2>" in page and "http" not in page.split("<body>")[1]


def test_a_directory_without_a_summary_is_bad_usage(tmp_path, capsys):
    assert main(["job", "compare", str(tmp_path), str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err


def test_a_summary_of_another_format_is_bad_usage_not_a_traceback(tmp_path, capsys):
    """A run of an older ffulab (one downtime record, not one per API) is named, not misread."""
    a, b = _run(tmp_path, "now"), _run(tmp_path, "older")
    older = json.loads((b / "summary.json").read_text())
    older.update(format=1, downtime={"seconds": 424.6, "windows": [], "url": "http://127.0.0.1:5000/v3"})
    (b / "summary.json").write_text(json.dumps(older))
    assert main(["job", "compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert f"{b / 'summary.json'}: format 1, this ffulab compares format 2" in err
    assert "Traceback" not in err
