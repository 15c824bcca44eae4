"""Run Tempest with stestr where the lab is reachable (the virthost's netns), and make JUnit of it.

The run directory is private to the workspace (its tempest.conf holds the admin password): it gets
``etc/tempest.conf``, a ``.stestr.conf`` pointing at the venv's Tempest (what ``tempest init``
writes), stestr's repository, Tempest's log and lock dir. stestr lists the tests first (a regex
that selects nothing fails here, before any request), runs them with one line of progress per test,
then ``stestr last --subunit | subunit2junitxml`` makes the JUnit file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ffulab.errors import FfulabError
from ffulab.proc import in_netns
from ffulab.validate.stream import stream
from ffulab.validate.tempest_venv import TempestVenv

STESTR_CONF = "[DEFAULT]\ntest_path={top}/tempest/test_discover\ntop_dir={top}\ngroup_regex=([^\\.]*\\.)*\n"
RESULT_LINE = re.compile(
    r"^\{\d+\} (?P<test>setUpClass \(\S+\)|\S+) (?:\[[\d.]+s\] )?\.\.\. (?P<status>ok|FAILED|SKIPPED)"
)
"""stestr's line per finished test (or class set-up): ``{0} tempest.api...test_x[id-...] [2.5s] ... ok``."""


class TempestError(FfulabError):
    """Tempest could not run (as opposed to: it ran and tests failed)."""


def prepare(work: Path, venv: TempestVenv, conf_text: str) -> dict[str, str]:
    """A fresh run directory; return the environment that points Tempest at its tempest.conf."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "etc").mkdir(parents=True, mode=0o700)
    (work / "lock").mkdir()
    work.chmod(0o700)
    conf = work / "etc" / "tempest.conf"
    conf.touch(mode=0o600)
    conf.write_text(conf_text)
    top = next(venv.path.glob("lib/python3*/site-packages"))
    (work / ".stestr.conf").write_text(STESTR_CONF.format(top=top))
    return {**os.environ, "TEMPEST_CONFIG_DIR": str(work / "etc"), "TEMPEST_CONFIG": "tempest.conf"}


def list_tests(venv: TempestVenv, work: Path, env: dict[str, str], regex: str) -> list[str]:
    """The test ids ``regex`` selects (no request to the lab: discovery only)."""
    result = subprocess.run(
        [str(venv.python), "-m", "stestr", "list", regex],
        cwd=work, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise TempestError(f"tempest: 'stestr list {regex}' failed (exit {result.returncode}):\n{tail}")
    return [line for line in result.stdout.splitlines() if line.strip()]


def run_tempest(
    venv: TempestVenv,
    conf_text: str,
    work: Path,
    regex: str,
    junit: Path,
    *,
    netns: str | None,
    concurrency: int,
    progress: Callable[[str], None],
    timeout: float = 7200,
) -> list[str]:
    """Run the tests ``regex`` selects in ``netns``; write ``junit`` and, beside it, ``tempest.subunit``.

    Return the ids of the tests selected (the final validation is compared with the baseline on those).
    Failing tests are not an error here (the JUnit says which); a regex selecting nothing, or stestr
    not producing results, is.
    """
    env = prepare(work, venv, conf_text)
    python = str(venv.python)
    subprocess.run([python, "-m", "stestr", "init"], cwd=work, env=env, capture_output=True, check=True)
    selected = list_tests(venv, work, env, regex)
    if not selected:
        raise TempestError(f"tempest: the regex {regex!r} selects no test of tempest {venv.version}")
    progress(f"tempest {venv.version}: {len(selected)} test(s) selected by {regex!r}")
    done = {"ok": 0, "FAILED": 0, "SKIPPED": 0}

    def on_line(line: str) -> None:
        match = RESULT_LINE.match(line)
        if match:
            if not match["test"].startswith("setUpClass"):
                done[match["status"]] += 1
            short = match["test"].split("[")[0].replace("tempest.api.", "")
            progress(f"tempest [{sum(done.values())}/{len(selected)}] {match['status']} {short}")

    argv = in_netns(netns, [python, "-m", "stestr", "run", "--concurrency", str(concurrency), regex])
    stream(argv, cwd=work, env=env, on_line=on_line, timeout=timeout, what="tempest")
    subunit = junit.parent / "tempest.subunit"
    with subunit.open("wb") as out:
        subprocess.run(
            [python, "-m", "stestr", "last", "--subunit"], cwd=work, env=env, stdout=out, check=False
        )
    with subunit.open("rb") as stream_in, junit.open("wb") as out:
        # exits 1 when the stream holds a failure: the JUnit file is what tells
        subprocess.run([str(venv.script("subunit2junitxml"))], stdin=stream_in, stdout=out, check=False)
    if junit.stat().st_size == 0:
        raise TempestError(f"tempest: no results (stestr wrote no subunit stream in {work})")
    return selected
