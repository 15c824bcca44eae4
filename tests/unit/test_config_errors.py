"""Bad input: each case exits 2 with one message naming the file and the key, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from plan_errors import plan_error

from ffulab.cli import main


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_unknown_key_suggests_the_close_one(data_root, capsys):
    _edit(data_root / "nodes" / "1ctlr.yml", "memory: 3072", "memroy: 3072")
    message = plan_error(capsys)
    assert "nodes/1ctlr.yml: nodes.overcloud[0].memroy: unknown key 'memroy'" in message
    assert "did you mean 'memory'?" in message


def test_unknown_top_level_key_in_a_lab(data_root, capsys):
    (data_root / "labs" / "keystone-only.yml").write_text(
        (data_root / "labs" / "keystone-only.yml").read_text() + "lbas: {}\n"
    )
    message = plan_error(capsys)
    assert "labs/keystone-only.yml: lbas: unknown key 'lbas'" in message
    assert "did you mean 'lab'?" in message


def test_wrong_type_names_file_key_and_value(data_root, capsys):
    _edit(
        data_root / "nodes" / "1ctlr.yml",
        "undercloud: {memory: 2048, vcpus: 2",
        "undercloud: {memory: 2048, vcpus: two",
    )
    message = plan_error(capsys)
    assert "nodes/1ctlr.yml: nodes.undercloud.vcpus:" in message
    assert "'two'" in message


def test_missing_layer_file(capsys):
    message = plan_error(capsys, "-N", "nodes/nope.yml")
    assert "nodes/nope.yml: nodes config file not found" in message


def test_unknown_layer_name_suggests(capsys):
    message = plan_error(capsys, "-N", "1ctrl")
    assert "-N/--nodes: no nodes config named '1ctrl'" in message
    assert "did you mean '1ctlr'?" in message


def test_unreadable_file(data_root, capsys):
    (data_root / "labs" / "keystone-only.yml").write_bytes(b"\xff\xfe\x00bad")
    message = plan_error(capsys)
    assert "labs/keystone-only.yml: cannot read the file" in message


def test_yaml_syntax_error_gives_the_line(data_root, capsys):
    _edit(data_root / "labs" / "minimal.yml", "  roles:\n", "  roles: [\n")
    message = plan_error(capsys, "-c", "minimal")
    assert re.search(r"labs/minimal.yml: YAML syntax error at line \d+", message), message


def test_duplicate_yaml_key_is_an_error(data_root, capsys):
    _edit(data_root / "labs" / "minimal.yml", "  name: minimal\n", "  name: minimal\n  name: other\n")
    message = plan_error(capsys, "-c", "minimal")
    assert "labs/minimal.yml: YAML syntax error at line 5" in message
    assert "duplicate key 'name'" in message


def test_unknown_series(capsys):
    message = plan_error(capsys, "-e", "release.undercloud=2026.9")
    assert "-e release.undercloud=2026.9: release.undercloud: unknown series '2026.9'" in message
    assert "did you mean" in message


def test_chain_not_consecutive(data_root, capsys):
    _edit(
        data_root / "release-configs" / "master-undercloud-2024.1-overcloud.yml",
        '["2024.1", "2024.2", "2025.1", "2025.2"]',
        '["2024.1", "2025.1", "2025.2", "2026.1"]',
    )
    message = plan_error(capsys)
    assert "release-configs/master-undercloud-2024.1-overcloud.yml: release.ffu_chain[1]" in message
    assert "not consecutive" in message


def test_chain_not_n_to_n_plus_3(data_root, capsys):
    _edit(
        data_root / "release-configs" / "master-undercloud-2024.1-overcloud.yml",
        '["2024.1", "2024.2", "2025.1", "2025.2"]',
        '["2024.1", "2024.2", "2025.1"]',
    )
    message = plan_error(capsys)
    assert "release.ffu_chain: a fast-forward upgrade goes N -> N+3 (4 series), this chain has 3" in message


def test_chain_must_start_at_the_overcloud_release(capsys):
    message = plan_error(capsys, "-e", "release.overcloud=2023.2")
    assert (
        "release.ffu_chain[0]: the chain starts at '2024.1' but the overcloud release is '2023.2'" in message
    )


def test_service_without_a_version_for_a_series(data_root, capsys):
    _edit(data_root / "release-configs" / "common.yml", "      keystone: 27.1.0\n", "")
    message = plan_error(capsys)
    assert "release-configs/common.yml: series.2025.1.services.keystone:" in message
    assert "no version of keystone for series 2025.1" in message


def test_duplicate_node_names(data_root, capsys):
    _edit(
        data_root / "nodes" / "1ctlr_1comp.yml",
        "name: overcloud-novacompute, role: Compute",
        "name: overcloud-controller, role: Compute",
    )
    message = plan_error(capsys, "-N", "1ctlr_1comp")
    assert (
        "nodes/1ctlr_1comp.yml: nodes.overcloud[1].name: duplicate node name 'overcloud-controller-0'"
        in message
    )


def test_memory_below_the_minimum(capsys):
    message = plan_error(capsys, "-e", "nodes.overcloud.0.memory=512")
    assert "-e nodes.overcloud.0.memory=512: nodes.overcloud[0].memory" in message
    assert "greater than or equal to 1024" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("nodes.undercloud.memory", "malformed override: expected key=value"),
        ("=4096", "the key before '=' is empty"),
        ("nodes.overcloud.7.memory=1", "list index 7 is out of range"),
        ("nodes.name.x=1", "'name' holds a value, not a section"),
    ],
)
def test_malformed_extra_vars(capsys, override, expected):
    message = plan_error(capsys, "-e", override)
    assert f"-e {override}" in message
    assert expected in message


def test_a_section_made_up_by_an_override_is_blamed_on_the_override(capsys):
    message = plan_error(capsys, "-e", "release.chain.1=2025.1")
    assert "-e release.chain.1=2025.1: release.chain: unknown key 'chain'" in message
    assert "did you mean 'ffu_chain'?" in message


def test_unknown_service_in_a_lab(data_root, capsys):
    _edit(data_root / "labs" / "keystone-only.yml", "haproxy, keystone", "haproxy, keystnoe")
    message = plan_error(capsys)
    assert "labs/keystone-only.yml: lab.roles.Controller.services[5]: unknown service 'keystnoe'" in message
    assert "did you mean 'keystone'?" in message


def test_node_role_missing_from_the_lab(capsys):
    message = plan_error(capsys, "-e", "nodes.overcloud.0.role=Storage")
    assert "role 'Storage' is not defined by lab 'keystone-only'" in message


def test_unknown_validation_in_a_job(data_root, capsys):
    _edit(data_root / "jobs" / "ffu-keystone-only.yml", "[tempest, services, resources]", "[tempest, smoke]")
    message = plan_error(capsys)
    assert "jobs/ffu-keystone-only.yml: job.validations[1]" in message


def test_unknown_phase_in_tags(capsys, tmp_path):
    code = main(["run", "-w", str(tmp_path / "ws"), "-t", "virthost,provison"])
    assert code == 2
    assert "unknown phase(s) in --tags/--skip-tags: provison" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists(), "bad usage must create nothing"


def test_the_message_is_printed_once_by_the_installed_command():
    """In a real process (no pytest log capture) the error appears once, not again via logging."""
    result = subprocess.run(
        [sys.executable, "-m", "ffulab", "plan", "-e", "nodes.overcloud.0.memroy=4096"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("unknown key 'memroy'") == 1, result.stderr
    assert result.stderr.startswith("error: -e nodes.overcloud.0.memroy=4096:"), result.stderr


def test_the_seeds_release_config_is_retired_naming_the_one_with_its_shape(capsys):
    message = plan_error(capsys, "-R", "master-undercloud-newton-overcloud")
    assert "-R/--release: 'master-undercloud-newton-overcloud' is retired" in message
    assert "cannot be installed on today's Python" in message
    assert "-R master-undercloud-2024.1-overcloud" in message


def test_an_update_from_ns_own_version_is_refused(capsys):
    message = plan_error(
        capsys, "-j", "ffu-keystone-only-update", "-e", "release.update_from.keystone=27.1.0"
    )
    assert "release.update_from.keystone: 27.1.0 is already 2025.1's version of keystone" in message
