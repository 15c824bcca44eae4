"""Shared fixtures: a copy of the shipped data tree a test may break; the user's current lab kept."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session", autouse=True)
def _users_current_lab_kept():
    """Tests run ``ffulab`` on labs of their own, which moves ``~/.ffulab/current``: put it back."""
    link = Path.home() / ".ffulab" / "current"
    before = os.readlink(link) if link.is_symlink() else None
    yield
    if before is not None and (not os.path.lexists(link) or os.readlink(link) != before):
        tmp = link.with_name(".current.tests")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(before)
        tmp.replace(link)
    elif before is None and link.is_symlink():
        link.unlink()
