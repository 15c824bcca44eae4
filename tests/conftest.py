"""Shared fixtures: a copy of the shipped data tree that a test may break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_DIRS = ("release-configs", "labs", "nodes", "jobs", "roles")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of release-configs/, labs/, nodes/, jobs/ and roles/ used as FFULAB_DATA_DIR."""
    root = tmp_path / "data"
    for name in DATA_DIRS:
        shutil.copytree(
            REPO / name, root / name, ignore=shutil.ignore_patterns("tasks", "templates", "handlers")
        )
    monkeypatch.setenv("FFULAB_DATA_DIR", str(root))
    return root
