"""Tempest's run directory and the runner around stestr: private, complete, nothing left running."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest

from ffulab.errors import FfulabError
from ffulab.validate.stream import stream
from ffulab.validate.tempest_run import RESULT_LINE, prepare
from ffulab.validate.tempest_venv import TempestVenv


def venv(tmp_path: Path) -> TempestVenv:
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "tempest" / "test_discover").mkdir(parents=True)
    return TempestVenv(tmp_path / "venv", "45.0.0", "k", False, 0.0)


def test_the_run_directory_is_private_and_points_stestr_at_tempest(tmp_path):
    work = tmp_path / "validate" / "baseline"
    (work / "old").mkdir(parents=True)
    env = prepare(work, venv(tmp_path), "[auth]\nadmin_password = x\n")
    assert not (work / "old").exists(), "a fresh directory each run"
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    conf = work / "etc" / "tempest.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600 and "admin_password" in conf.read_text()
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    assert f"test_path={site}/tempest/test_discover\ntop_dir={site}\n" in (work / ".stestr.conf").read_text()
    assert (env["TEMPEST_CONFIG_DIR"], env["TEMPEST_CONFIG"]) == (str(work / "etc"), "tempest.conf")
    assert (work / "lock").is_dir()


TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"
USERS = "tempest.api.identity.v3.test_users.IdentityV3UsersTest"


@pytest.mark.parametrize(
    ("line", "test", "status"),
    [
        (f"{{0}} {TOKENS}.test_a[id-6f,smoke] [2.5s] ... ok", f"{TOKENS}.test_a[id-6f,smoke]", "ok"),
        (f"{{1}} setUpClass ({USERS}) ... SKIPPED: no PCI-DSS", f"setUpClass ({USERS})", "SKIPPED"),
        (f"{{0}} {TOKENS}.test_x [0.1s] ... FAILED", f"{TOKENS}.test_x", "FAILED"),
    ],
)  # fmt: skip
def test_stestr_result_lines_are_read(line, test, status):
    match = RESULT_LINE.match(line)
    assert (match["test"], match["status"]) == (test, status)


def test_other_stestr_output_is_not_a_result():
    assert RESULT_LINE.match("Totals") is None
    assert RESULT_LINE.match(" - Passed: 12") is None


def test_stream_passes_lines_and_returns_the_exit_code(tmp_path):
    lines: list[str] = []
    code = stream(
        [sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"],
        cwd=tmp_path, env={}, on_line=lines.append, timeout=30, what="t",
    )  # fmt: skip
    assert (code, lines) == (3, ["a", "b"])


def test_stream_kills_the_whole_process_group_on_timeout(tmp_path):
    pid_file = tmp_path / "grandchild"
    script = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(FfulabError, match="no end within 1 s"):
        stream([sys.executable, "-c", script], cwd=tmp_path, env={}, on_line=print, timeout=1, what="t")
    assert time.monotonic() - started < 20
    grandchild = int(pid_file.read_text())
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{grandchild}").exists()
        or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]
    )
