"""``ffulab validate``: its flags, and what it prints and returns."""

from __future__ import annotations

import argparse
import json

import pytest

from ffulab.commands import validate as command
from ffulab.errors import UsageError
from ffulab.validate import ValidationFailed

RESULT = {
    "release": "2024.1",
    "ok": True,
    "tempest": {"passed": 3, "failed": 0, "skipped": 1, "seconds": 60.0, "junit": "/ws/t.xml", "results": {}},
    "services": {
        "passed": 16,
        "failed": 0,
        "skipped": 0,
        "seconds": 90.0,
        "junit": "/ws/s.xml",
        "results": {},
    },
}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ffulab")
    command.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["validate", *argv])


@pytest.fixture
def calls(monkeypatch, tmp_path):
    seen: list[dict] = []

    def fake(workspace, regex=None, progress=print):
        seen.append({"workspace": workspace, "regex": regex})
        if regex == "fail":
            raise ValidationFailed("baseline", {**RESULT, "ok": False}, [])
        return RESULT

    monkeypatch.setattr("ffulab.validate.validate", fake)
    monkeypatch.setattr(command, "start_log", lambda workspace, name: tmp_path / "log")
    return seen


def test_flags(tmp_path):
    args = parse("-w", str(tmp_path), "--tempest-regex", r"^tempest\.api\.identity\.v3", "--json")
    assert (args.working_dir, args.tempest_regex, args.json) == (
        tmp_path,
        r"^tempest\.api\.identity\.v3",
        True,
    )
    assert args.func is command.command


def test_counts_and_junit_files_are_printed(tmp_path, calls, capsys):
    args = parse("-w", str(tmp_path), "--tempest-regex", "x")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "tempest 3 passed, 0 failed, 1 skipped" in out and "services 16 passed" in out
    assert "/ws/t.xml" in out and "/ws/s.xml" in out
    assert calls == [{"workspace": tmp_path.resolve(), "regex": "x"}]


def test_json_prints_the_result_alone_even_when_it_fails(tmp_path, calls, capsys):
    args = parse("-w", str(tmp_path), "--json", "--tempest-regex", "fail")
    with pytest.raises(ValidationFailed):
        args.func(args)
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_no_lab_is_bad_usage(monkeypatch):
    monkeypatch.setattr("ffulab.paths.current_workspace", lambda: None)
    args = parse()
    with pytest.raises(UsageError, match="pass -w WORKSPACE"):
        args.func(args)
