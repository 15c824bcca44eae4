"""The variables the undercloud and overcloud playbooks get, built from config, layout and mirror."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_fakes import fake_index, lab

from ffulab.deploy.extravars import (
    artifact_map,
    first_node_with,
    overcloud_extravars,
    redacted,
    undercloud_extravars,
)
from ffulab.deploy.keys import is_fernet_key
from ffulab.errors import FfulabError


@pytest.fixture(autouse=True)
def _workspaces(tmp_path: Path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()


def test_keystone_only_at_release_n(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, index)
    controller = layout.node("overcloud-controller-0")
    assert extravars["release"] == "2024.1"
    assert extravars["versions"]["keystone"] == "25.0.0"
    assert extravars["artifacts"]["2024.1"]["keystone"]["venv"] == "/opt/openstack/keystone-25.0.0"
    assert set(extravars["artifacts"]) == {"2024.1", "2024.2", "2025.1", "2025.2", "2026.2"}
    assert extravars["mirror_url"] == f"http://{layout.node('undercloud').ctlplane_ip}:8787"
    assert extravars["lab_roles"]["Controller"] == ["timezone", "chrony", "mariadb", "keystone", "haproxy"]
    assert extravars["database_host"] == controller.ctlplane_ip
    assert extravars["database_node"] == extravars["keystone_node"] == "overcloud-controller-0"
    assert extravars["keystone_public_url"] == f"http://{controller.ctlplane_ip}:5000/v3"
    assert extravars["keystone_region"] == "RegionOne"
    assert set(extravars["database_passwords"]) == {"keystone"}
    for repository in ("keystone_fernet_keys", "keystone_credential_keys"):
        assert sorted(extravars[repository]) == ["0", "1"]
        assert all(is_fernet_key(key) for key in extravars[repository].values())


def test_secrets_are_stable_between_runs_and_differ_between_labs(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    first = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "a", index)
    again = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "a", index)
    other = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "b", index)
    secret_keys = ["database_passwords", "keystone_admin_password", "keystone_fernet_keys"]
    assert all(first[key] == again[key] for key in secret_keys), "a redeploy must change nothing"
    assert all(first[key] != other[key] for key in secret_keys)


def test_redacted_hides_every_secret_and_keeps_the_rest(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))
    shown = redacted({**extravars, "overcloud_clouds_yaml": "x", "overcloud_rc": "y"})
    for key in (
        "database_passwords", "keystone_admin_password", "keystone_fernet_keys",
        "keystone_credential_keys", "overcloud_clouds_yaml", "overcloud_rc",
    ):  # fmt: skip
        assert shown[key] == "********", key
    assert shown["release"] == "2024.1" and shown["keystone_public_url"] == extravars["keystone_public_url"]


def test_the_minimal_lab_gets_no_database_and_no_keystone(tmp_path: Path):
    resolved, layout = lab(tmp_path, job="ffu-minimal")
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))
    assert "database_host" not in extravars and "keystone_public_url" not in extravars
    assert extravars["lab_roles"] == {"Controller": ["timezone", "chrony"], "Compute": ["timezone", "chrony"]}


def test_a_mirror_without_the_release_n_artifact_is_an_error(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    index["artifacts"] = [a for a in index["artifacts"] if a["series"] != "2024.1"]
    with pytest.raises(FfulabError, match=r"no keystone for 2024\.1.*-t undercloud"):
        overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, index)


def test_undercloud_gets_the_mirror_on_its_ctlplane_address_and_the_client(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    extravars = undercloud_extravars(resolved.config, layout, fake_index(resolved))
    assert extravars["mirror_bind"] == layout.node("undercloud").ctlplane_ip
    assert extravars["ctlplane_cidr"] == layout.networks["ctlplane"].cidr
    assert extravars["openstackclient"]["file"].startswith("2026.2/openstackclient-")
    assert extravars["mirror_dir"] == "/srv/ffulab/mirror"


def test_undercloud_without_the_client_in_the_mirror_is_an_error(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    index["artifacts"] = [a for a in index["artifacts"] if a["name"] != "openstackclient"]
    with pytest.raises(FfulabError, match="openstackclient"):
        undercloud_extravars(resolved.config, layout, index)


def test_artifact_map_is_series_then_name(tmp_path: Path):
    resolved, _ = lab(tmp_path)
    artifacts = artifact_map(fake_index(resolved))
    assert artifacts["2025.2"]["keystone"]["version"] == "28.1.0"
    assert set(artifacts["2026.2"]) == {"openstackclient"}


def test_shared_services_live_on_the_first_node_of_a_role_running_them(tmp_path: Path):
    resolved, layout = lab(tmp_path, nodes="3ctlr")
    assert first_node_with(resolved.config, layout, "mariadb") == "overcloud-controller-0"
    assert first_node_with(resolved.config, layout, "glance") is None


def test_no_secret_value_survives_redaction(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))
    text = json.dumps(redacted(extravars))
    secrets = json.loads((tmp_path / "secrets.json").read_text()).values()
    assert secrets and not [s for s in secrets if s in text]
