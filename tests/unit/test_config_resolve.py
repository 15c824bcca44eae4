"""The config layers: what a shipped job resolves to and how layers override each other."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ffulab.config.resolve import available, default_job, resolve
from ffulab.errors import ConfigError
from ffulab.paths import data_root


def test_default_job_resolves_to_keystone_only_2024_1_to_2025_2():
    resolved = resolve()
    config = resolved.config
    assert config.job and config.job.name == default_job() == "ffu-keystone-only"
    assert config.release.ffu_chain == ["2024.1", "2024.2", "2025.1", "2025.2"]
    assert config.release.undercloud == "2026.2"
    assert config.lab.name == "keystone-only"
    assert config.lab.roles["Controller"].services == [
        "timezone", "chrony", "mariadb", "memcached", "haproxy", "keystone",
    ]  # fmt: skip
    assert [name for name, _ in config.overcloud_nodes()] == ["overcloud-controller-0"]


def test_series_versions_are_the_real_releases():
    series = resolve().config.series
    majors = {name: spec.services["keystone"].split(".")[0] for name, spec in series.items()}
    assert majors == {
        "2023.1": "23",
        "2023.2": "24",
        "2024.1": "25",
        "2024.2": "26",
        "2025.1": "27",
        "2025.2": "28",
        "2026.1": "29",
        "2026.2": "30",
    }


def test_every_shipped_job_and_release_config_resolves():
    root = data_root()
    for job in available("job", root):
        assert resolve(job=job).config.job.name == job
    for release in available("release", root):
        assert resolve(release=release).config.release.name == release
    for nodes in available("nodes", root):
        assert resolve(nodes=nodes).config.nodes.name == nodes
    for lab in available("lab", root):
        assert resolve(lab=lab).config.lab.name == lab


def test_constraints_are_shipped_in_the_project_for_every_series():
    root = data_root()
    for spec in resolve().config.series.values():
        text = (root / "release-configs" / "constraints" / spec.constraints).read_text()
        assert "oslo.db===" in text


def test_flags_replace_the_jobs_layers():
    config = resolve(release="master-undercloud-2025.1-overcloud", nodes="nodes/3ctlr.yml").config
    assert config.release.ffu_chain[-1] == "2026.2"
    assert [name for name, _ in config.overcloud_nodes()] == [f"overcloud-controller-{i}" for i in range(3)]
    assert config.lab.name == "keystone-only"  # still from the default job


def test_precedence_release_lab_nodes_job_then_extra_vars(data_root: Path):
    """A key set in every layer takes the value of the latest one."""
    (data_root / "release-configs" / "master-undercloud-2024.1-overcloud.yml").write_text(
        (data_root / "release-configs" / "master-undercloud-2024.1-overcloud.yml").read_text()
        + "settings: {timezone: Release/Zone, virthost: release}\nimage: {size_gib: 7}\n"
    )
    (data_root / "labs" / "keystone-only.yml").write_text(
        (data_root / "labs" / "keystone-only.yml").read_text()
        + "settings: {timezone: Lab/Zone, virthost: lab}\n"
    )
    (data_root / "nodes" / "1ctlr.yml").write_text(
        (data_root / "nodes" / "1ctlr.yml").read_text() + "settings: {timezone: Nodes/Zone}\n"
    )
    job = data_root / "jobs" / "ffu-keystone-only.yml"
    data = yaml.safe_load(job.read_text())
    data["job"]["overrides"] = {"settings": {"timezone": "Job/Zone"}}
    job.write_text(yaml.safe_dump(data))
    resolved = resolve()
    settings = resolved.config.settings
    assert settings.timezone == "Job/Zone"
    assert settings.virthost == "lab"  # lab beats release, nobody later set it
    assert resolved.config.image.size_gib == 7  # release beats common.yml
    assert resolved.config.image.suite == "bookworm"  # sibling keys of common.yml survive a partial override

    resolved = resolve(extra_vars=["settings.timezone=Cli/Zone", "nodes.overcloud.0.memory=4096"])
    assert resolved.config.settings.timezone == "Cli/Zone"
    assert resolved.config.nodes.overcloud[0].memory == 4096


def test_extra_vars_reach_series_keys_that_contain_dots():
    config = resolve(extra_vars=["series.2024.1.services.keystone=25.0.1"]).config
    assert config.series["2024.1"].services["keystone"] == "25.0.1"


def test_extra_vars_are_typed_like_yaml():
    config = resolve(extra_vars=["settings.snapshots.auto=false", "nodes.undercloud.vcpus=4"]).config
    assert config.settings.snapshots.auto is False
    assert config.nodes.undercloud.vcpus == 4


def test_lists_are_replaced_not_merged():
    config = resolve(extra_vars=["release.ffu_chain=[2024.1, 2024.2, 2025.1, 2025.2]"]).config
    assert config.release.ffu_chain == ["2024.1", "2024.2", "2025.1", "2025.2"]


def _jobs_tree(tmp_path: Path, defaults: dict[str, bool]) -> Path:
    (tmp_path / "jobs").mkdir()
    for name, default in defaults.items():
        body = {"job": {"name": name, "release": "r", "lab": "l", "nodes": "n", "default": default}}
        (tmp_path / "jobs" / f"{name}.yml").write_text(yaml.safe_dump(body))
    return tmp_path


def test_the_default_job_is_the_one_the_jobs_mark(tmp_path: Path):
    assert default_job(_jobs_tree(tmp_path, {"a": False, "b": True})) == "b"


@pytest.mark.parametrize("defaults", [{"a": False}, {"a": True, "b": True}])
def test_no_default_job_or_two_is_a_config_error_naming_the_key(tmp_path: Path, defaults):
    with pytest.raises(ConfigError, match=r"jobs/: job.default: exactly one job is the default") as caught:
        default_job(_jobs_tree(tmp_path, defaults))
    assert caught.value.exit_code == 2
    if len(defaults) == 2:
        assert "jobs/a.yml, jobs/b.yml" in str(caught.value)
