"""Lock files and constraint pins: parsing, writing, and the locks shipped in release-configs/locks/."""

from pathlib import Path

import pytest

from ffulab.artifacts.build import SERVICE_EXTRAS, ArtifactSpec, _checked_lock
from ffulab.artifacts.lock import (
    canonical_name,
    constraint_pin,
    format_lock,
    lock_path,
    parse_freeze,
    read_lock,
    sha256_file,
    write_lock,
)
from ffulab.config.yamlio import load_yaml
from ffulab.errors import LockError

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "release-configs" / "constraints"


KEYSTONE = ArtifactSpec("keystone", "keystone", SERVICE_EXTRAS)


def test_canonical_name_follows_pep_503():
    assert canonical_name("oslo.config") == "oslo-config"
    assert canonical_name("Oslo_Config") == "oslo-config"
    assert canonical_name("PyMySQL") == "pymysql"


def test_constraint_pin_evaluates_python_version_markers_for_python_3_11():
    assert constraint_pin(CONSTRAINTS / "upper-constraints-2025.2.txt", "python-openstackclient") == "8.2.0"
    assert constraint_pin(CONSTRAINTS / "upper-constraints-2024.1.txt", "PyMySQL") == "1.1.0"
    assert constraint_pin(CONSTRAINTS / "upper-constraints-2024.1.txt", "pymysql") == "1.1.0"


def test_constraint_pin_of_an_unpinned_project_is_none(tmp_path):
    constraints = tmp_path / "uc.txt"
    constraints.write_text("# comment\nfoo===1.0;python_version=='3.9'\nbar===2.0\n")
    assert constraint_pin(constraints, "keystone") is None
    assert constraint_pin(constraints, "foo") is None  # only pinned for 3.9
    assert constraint_pin(constraints, "foo", python=(3, 9)) == "1.0"


def test_parse_freeze_normalises_names_and_skips_comments():
    text = "# header: x\n\nOslo.Config==9.4.0\nPyMySQL==1.1.0  # driver\n"
    assert parse_freeze(text) == {"oslo-config": "9.4.0", "pymysql": "1.1.0"}


@pytest.mark.parametrize(
    "line",
    [
        "keystone>=25",
        "-e git+https://example.org/x#egg=x",
        "keystone @ file:///tmp/k.whl",
        "x==1;python_version<'3'",
    ],
)
def test_parse_freeze_refuses_anything_but_exact_pins(line):
    with pytest.raises(LockError, match="line 1: expected 'name==version'"):
        parse_freeze(line + "\n", "locks/x.txt")


def test_parse_freeze_refuses_a_name_pinned_twice_differently():
    with pytest.raises(LockError, match="pinned twice"):
        parse_freeze("oslo.config==1\noslo-config==2\n")


def test_write_then_read_lock_round_trips_pins_and_header(tmp_path):
    path = lock_path(tmp_path, "2024.1", "keystone")
    pins = {"keystone": "25.0.0", "pymysql": "1.1.0", "alembic": "1.9.4"}
    assert write_lock(path, pins, {"series": "2024.1", "constraints-sha256": "ab12"}, ["made by a test", ""])
    assert path == tmp_path / "release-configs/locks/2024.1/keystone.txt"
    text = path.read_text()
    assert text.splitlines()[:4] == [
        "# made by a test",
        "#",
        "# series: 2024.1",
        "# constraints-sha256: ab12",
    ]
    assert text.splitlines()[4:] == ["alembic==1.9.4", "keystone==25.0.0", "pymysql==1.1.0"]
    lock = read_lock(path)
    assert lock.pins == pins
    assert lock.header == {"series": "2024.1", "constraints-sha256": "ab12"}
    assert lock.version_of("KeyStone") == "25.0.0"


def test_write_lock_reports_unchanged_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "keystone.txt"
    assert write_lock(path, {"a": "1"}, {}) is True
    assert write_lock(path, {"a": "1"}, {}) is False
    assert write_lock(path, {"a": "2"}, {}) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystone.txt"]


def test_format_lock_is_sorted_so_regenerating_gives_no_diff():
    assert format_lock({"b": "1", "a": "2"}, {}) == format_lock({"a": "2", "b": "1"}, {})


def test_read_lock_of_an_empty_or_missing_file_names_it(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(LockError, match=r"empty\.txt.*no 'name==version' line"):
        read_lock(empty)
    with pytest.raises(LockError, match=r"missing\.txt.*cannot read"):
        read_lock(tmp_path / "missing.txt")


def test_a_lock_for_another_version_is_refused_before_any_build(tmp_path):
    lock = tmp_path / "keystone.txt"
    write_lock(lock, {"keystone": "25.0.0"}, {})
    constraints = CONSTRAINTS / "upper-constraints-2024.1.txt"
    with pytest.raises(LockError, match=r"pins keystone 25\.0\.0, the config asks for 25\.0\.1") as caught:
        _checked_lock(lock, KEYSTONE, "25.0.1", constraints, print)
    assert "ffulab lock" in str(caught.value)


def test_a_lock_made_from_other_constraints_warns_but_wins(tmp_path):
    lock = tmp_path / "keystone.txt"
    write_lock(lock, {"keystone": "25.0.0"}, {"constraints-sha256": "0" * 64})
    said = []
    parsed = _checked_lock(
        lock, KEYSTONE, "25.0.0", CONSTRAINTS / "upper-constraints-2024.1.txt", said.append
    )
    assert parsed.pins == {"keystone": "25.0.0"}
    assert len(said) == 1 and "another upper-constraints-2024.1.txt" in said[0]


def _shipped_locks() -> list[Path]:
    return sorted((REPO / "release-configs" / "locks").glob("*/*.txt"))


@pytest.mark.parametrize("lock", _shipped_locks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_lock_fits_common_yml_and_its_constraints(lock):
    common = load_yaml(REPO / "release-configs" / "common.yml", "common.yml")
    series = common["series"][lock.parent.name]
    parsed = read_lock(lock)
    constraints = CONSTRAINTS / series["constraints"]
    if lock.stem == "openstackclient":
        assert parsed.version_of("python-openstackclient") == constraint_pin(
            constraints, "python-openstackclient"
        )
    else:
        assert parsed.version_of(lock.stem) == series["services"][lock.stem]
        assert {"pymysql", "gunicorn"} <= set(parsed.pins)
    assert parsed.header["series"] == lock.parent.name
    assert parsed.header["constraints-sha256"] == sha256_file(constraints), "constraints changed: ffulab lock"
    for name, version in parsed.pins.items():  # where upper-constraints pins a package, the lock agrees
        assert constraint_pin(constraints, name) in (None, version), name
