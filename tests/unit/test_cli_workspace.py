"""A workspace (``-w``) or output directory that names a file is bad usage: exit 2, one line, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffulab import cli

COMMANDS_TAKING_W = [  # -w goes where the documented form puts it: after these words
    ["run", "-t", "virthost"],
    ["destroy"],
    ["status"],
    ["ffu"],
    ["validate"],
    ["snapshot", "list"],
    ["snapshot", "create"],
    ["ssh"],
    ["job", "run"],
]
AFTER_W = {"snapshot create": ["s1"], "ssh": ["undercloud", "--", "true"]}


@pytest.fixture(autouse=True)
def _nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad usage must stop before any phase: a phase reached here fails the test instead of building a lab."""

    def refuse(*_args, **_kwargs):
        pytest.fail("a phase was about to run: the bad path was not refused")

    for module in ("ffulab.cli", "ffulab.job.run"):
        monkeypatch.setattr(f"{module}.run_phases", refuse)


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return path


def assert_refused(code: int, err: str, path: Path) -> None:
    assert code == 2, f"expected exit 2, got {code}: {err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {err}"
    assert str(path) in lines[0] and "not a directory" in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS_TAKING_W, ids=" ".join)
def test_a_workspace_that_is_a_file_is_refused_naming_it(command, a_file, capsys):
    code, err = run_cli(capsys, [*command, "-w", str(a_file), *AFTER_W.get(" ".join(command), [])])
    assert_refused(code, err, a_file)
    assert a_file.read_text().startswith("root:"), "the file is left as it was"


@pytest.mark.parametrize("command", [["run", "-t", "virthost"], ["destroy"]], ids=" ".join)
def test_a_workspace_below_a_file_is_refused_naming_it(command, a_file, capsys):
    code, err = run_cli(capsys, [*command, "-w", str(a_file / "lab")])
    assert_refused(code, err, a_file / "lab")


def test_the_last_run_pointing_at_a_file_is_refused(a_file, capsys):
    link = Path.home() / ".ffulab" / "current"
    link.parent.mkdir(parents=True)
    link.symlink_to(a_file)
    code, err = run_cli(capsys, ["destroy"])
    assert_refused(code, err, a_file)


def test_zuul_export_into_a_file_is_refused_naming_it(a_file, capsys):
    code, err = run_cli(capsys, ["job", "export", "--zuul", str(a_file)])
    assert_refused(code, err, a_file)


def test_job_artifacts_into_a_file_are_refused_before_anything_runs(a_file, tmp_path, capsys):
    code, err = run_cli(capsys, ["job", "run", "-w", str(tmp_path / "ws"), "--artifacts", str(a_file)])
    assert_refused(code, err, a_file)
    assert not (tmp_path / "ws").exists(), "bad usage creates nothing"
