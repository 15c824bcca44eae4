"""Tempest's venv: keyed by what decides its content, reused from the cache, built once."""

from __future__ import annotations

import json
from pathlib import Path

from ffulab.validate import tempest_venv
from ffulab.validate.tempest_venv import MANIFEST, ensure_tempest, venv_key


def test_the_key_changes_with_the_pin_the_constraints_and_the_python():
    key = venv_key("45.0.0", b"a===1\n", "3.11.7 /usr")
    assert key == venv_key("45.0.0", b"a===1\n", "3.11.7 /usr")
    assert key != venv_key("46.0.0", b"a===1\n", "3.11.7 /usr")
    assert key != venv_key("45.0.0", b"a===2\n", "3.11.7 /usr")
    assert key != venv_key("45.0.0", b"a===1\n", "3.12.1 /usr")


def fake_build(calls: list[str]):
    def build(work: Path, version: str, constraints: Path, uv_cache: Path, index_url: str) -> Path:
        calls.append(version)
        entry = work / "entry"
        (entry / "venv" / "bin").mkdir(parents=True)
        (entry / MANIFEST).write_text(json.dumps({"version": version}))
        return entry

    return build


def test_a_venv_is_built_once_then_taken_from_the_cache(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(tempest_venv, "_build", fake_build(calls))
    constraints = tmp_path / "upper-constraints-2025.2.txt"
    constraints.write_text("stestr===4.2.0\n")
    lines: list[str] = []
    first = ensure_tempest("45.0.0", constraints, lines.append, cache_dir=tmp_path / "cache")
    again = ensure_tempest("45.0.0", constraints, lines.append, cache_dir=tmp_path / "cache")
    assert calls == ["45.0.0"]
    assert (first.built, again.built) == (True, False)
    assert first.path == again.path == tmp_path / "cache" / "tempest" / first.key / "venv"
    assert first.python == first.path / "bin" / "python"
    assert any("cached" in line for line in lines)
    assert not list((tmp_path / "cache" / "tempest").glob(".build-*")), "no work dir left behind"


def test_another_pin_makes_another_venv(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(tempest_venv, "_build", fake_build(calls))
    constraints = tmp_path / "uc.txt"
    constraints.write_text("")
    one = ensure_tempest("45.0.0", constraints, cache_dir=tmp_path)
    two = ensure_tempest("41.0.0", constraints, cache_dir=tmp_path)
    assert calls == ["45.0.0", "41.0.0"] and one.key != two.key
