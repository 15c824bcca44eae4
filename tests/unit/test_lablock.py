"""A second ffulab process on a lab is refused, naming the first; the lock dies with its process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffulab import lablock

TRY_HOLD = "import sys, pathlib; from ffulab.lablock import hold; hold(pathlib.Path(sys.argv[1]), 'ffu')"


def _other_process_holds(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", TRY_HOLD, str(workspace)], capture_output=True, text=True)


@pytest.fixture(autouse=True)
def _release_after_test():
    yield
    for fd in lablock._held.values():
        os.close(fd)
    lablock._held.clear()


def test_a_second_process_is_refused_with_the_holder_named(tmp_path):
    lablock.hold(tmp_path, "snapshot-create")
    other = _other_process_holds(tmp_path)
    assert other.returncode != 0
    assert f"in use by ffulab snapshot create (pid {os.getpid()}" in other.stderr


def test_the_same_process_may_hold_its_lab_again(tmp_path):
    lablock.hold(tmp_path, "job")
    lablock.hold(tmp_path, "destroy")  # job run destroying its own lab at the end
    assert (tmp_path / lablock.LOCK_FILE).stat().st_mode & 0o777 == 0o600


def test_the_lock_ends_with_its_process(tmp_path):
    assert _other_process_holds(tmp_path).returncode == 0  # held, then dropped when it exited
    lablock.hold(tmp_path, "run")
    assert "ffulab run" in (tmp_path / lablock.LOCK_FILE).read_text()
