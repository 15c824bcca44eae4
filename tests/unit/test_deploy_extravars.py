"""The variables the undercloud and overcloud playbooks get, built from config, layout and mirror."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from deploy_fakes import fake_index, lab

from ffulab.deploy.extravars import (
    artifact_map,
    log_safe,
    overcloud_extravars,
    providers,
    service_nodes,
    undercloud_extravars,
)
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
    assert extravars["lab_roles"]["Controller"] == resolved.config.lab.roles["Controller"].services
    assert extravars["service_nodes"]["keystone"] == ["overcloud-controller-0"]
    assert extravars["providers"]["database"] == {
        "service": "mariadb",
        "node": "overcloud-controller-0",
        "host": controller.ctlplane_ip,
    }
    assert set(extravars["providers"]) == {"database", "cache", "loadbalancer", "identity"}
    assert extravars["apis"]["keystone"]["url"] == f"http://{controller.ctlplane_ip}:5000/v3"
    assert extravars["identity"]["url"] == extravars["apis"]["keystone"]["url"]
    assert extravars["region"] == "RegionOne"
    assert [(db["name"], db["user"]) for db in extravars["databases"]] == [("keystone", "keystone")]
    assert extravars["databases"][0]["password"] == extravars["secrets"]["keystone"]["db_password"]
    assert extravars["registered"] == [], "identity registers itself (bootstrap)"
    for repository in ("fernet_keys", "credential_keys"):
        keys = extravars["secrets"]["keystone"][repository]
        assert sorted(keys) == ["0", "1"] and all(is_fernet_key(key) for key in keys.values())


def is_fernet_key(text: str) -> bool:
    return len(text) == 44 and len(base64.urlsafe_b64decode(text)) == 32


def test_secrets_are_stable_between_runs_and_differ_between_labs(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    first = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "a", index)
    again = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "a", index)
    other = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path / "b", index)
    for key in ("secrets", "identity", "databases"):
        assert first[key] == again[key] and first[key] != other[key]


def test_log_safe_hides_every_secret_wherever_it_is_and_keeps_the_rest(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))
    extravars["note"] = f"a line holding {extravars['identity']['admin_password']} in the middle"
    text = json.dumps(log_safe(tmp_path, extravars))
    secrets = json.loads((tmp_path / "secrets.json").read_text()).values()
    assert secrets and not [s for s in secrets if s in text]
    assert extravars["apis"]["keystone"]["url"] in text and "2024.1" in text


def test_the_minimal_lab_gets_no_database_and_no_identity(tmp_path: Path):
    resolved, layout = lab(tmp_path, job="ffu-minimal")
    extravars = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))
    assert extravars["providers"] == {} and "identity" not in extravars and extravars["databases"] == []


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
    nodes = service_nodes(resolved.config, layout)
    assert nodes["mariadb"] == ["overcloud-controller-0", "overcloud-controller-1", "overcloud-controller-2"]
    assert (
        providers(resolved.config, resolved.catalog, layout)["database"]["node"] == "overcloud-controller-0"
    )
    assert "glance" not in nodes


def test_a_lab_using_the_workload_image_gets_it_from_the_mirror_or_an_error_naming_the_phase(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    index = fake_index(resolved)
    plain = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, index)
    assert "workload_image" not in plain, "no service of the lab uses it"
    keystone = resolved.catalog["keystone"]
    resolved.catalog["keystone"] = keystone.model_copy(update={"uses": ["workload_image"]})
    with pytest.raises(FfulabError, match=r"no workload image.*-t undercloud"):
        overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, index)
    entry = {
        "name": "workload", "file": "images/workload-0123456789abcdef.tar.zst", "sha256": "ab" * 32,
        "size": 10, "digest": "0123456789abcdef" * 4, "kernel_version": "6.1.0-57-cloud-amd64",
        "cmdline": "console=ttyS0", "tcp": 80,
    }  # fmt: skip
    extravars = overcloud_extravars(
        resolved.config, resolved.catalog, layout, tmp_path, {**index, "images": [entry]}
    )
    undercloud = layout.node("undercloud").ctlplane_ip
    assert extravars["workload_image"] == {
        "path": "/srv/ffulab/mirror/images/workload-0123456789abcdef.tar.zst",
        "url": f"http://{undercloud}:8787/images/workload-0123456789abcdef.tar.zst",
        "sha256": "ab" * 32,
        "digest": entry["digest"],
        "kernel_version": "6.1.0-57-cloud-amd64",
        "cmdline": "console=ttyS0",
        "tcp": 80,
    }


def test_roles_get_the_virthost_probes_guest_to_probe_kvm_inside_a_node(tmp_path: Path):
    resolved, layout = lab(tmp_path)
    probe = overcloud_extravars(resolved.config, resolved.catalog, layout, tmp_path, fake_index(resolved))[
        "kvm_probe"
    ]
    sector = base64.b64decode(probe["boot_sector"])
    assert len(sector) == 512 and sector.endswith(b"\x55\xaa"), "a BIOS boot sector"
    assert probe["marker"].encode() in sector
