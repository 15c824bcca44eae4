"""tempest.conf from the lab: identity v3 only, only the lab's services available, flags per release."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from ffulab import paths
from ffulab.catalog import Catalog
from ffulab.catalog import TempestSpec as ServiceTempest
from ffulab.config.resolve import resolve
from ffulab.deploy.credentials import AdminCredentials
from ffulab.errors import ConfigError
from ffulab.validate.tempest_conf import options_at, render, tempest_settings

URL = "http://192.0.2.10:5000/v3"
SERIES = list(resolve().config.series)
SERVICE_AVAILABLE = resolve().config.tempest.service_available


def credentials() -> AdminCredentials:
    return AdminCredentials(auth_url=URL, password="S3cret")


def conf(services: dict[str, ServiceTempest], release: str, tmp_path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    settings = tempest_settings(credentials(), services, SERIES, release, tmp_path, SERVICE_AVAILABLE)
    parser.read_string(render(settings))
    return parser


def keystone() -> dict[str, ServiceTempest]:
    return {"keystone": Catalog.load(paths.data_root() / "roles")["keystone"].tempest}


def test_identity_is_v3_only_at_the_labs_url_with_the_admin(tmp_path):
    parser = conf(keystone(), "2024.1", tmp_path)
    assert parser["identity"]["uri_v3"] == URL
    assert "uri" not in parser["identity"], "no identity v2 URI"
    assert parser["identity"]["region"] == "RegionOne"
    auth = parser["auth"]
    assert (auth["admin_username"], auth["admin_password"], auth["admin_project_name"]) == (
        "admin", "S3cret", "admin",
    )  # fmt: skip
    assert auth["admin_domain_name"] == "Default"
    assert auth["use_dynamic_credentials"] == "true"
    assert auth["create_isolated_networks"] == "false"


def test_only_the_labs_services_are_available(tmp_path):
    services = {**keystone(), "glance": ServiceTempest(service_available="glance")}
    available = conf(services, "2024.1", tmp_path)["service_available"]
    assert {name: available[name] for name in SERVICE_AVAILABLE} == {
        name: "true" if name == "glance" else "false" for name in SERVICE_AVAILABLE
    }


def test_a_keystone_only_lab_has_no_other_service(tmp_path):
    available = conf(keystone(), "2025.2", tmp_path)["service_available"]
    assert {available[name] for name in SERVICE_AVAILABLE} == {"false"}


def test_keystone_enforces_scope_from_2024_2_on(tmp_path):
    at_n = conf(keystone(), "2024.1", tmp_path)
    assert not at_n.has_option("enforce_scope", "keystone")
    assert not at_n.has_option("auth", "admin_system")
    assert at_n["identity-feature-enabled"]["security_compliance"] == "false"
    after = conf(keystone(), "2025.2", tmp_path)
    assert after["enforce_scope"]["keystone"] == "true"
    assert after["auth"]["admin_system"] == "all"
    assert after["identity-feature-enabled"]["trust"] == "true", "2023.1's flags still apply"


def test_a_later_series_wins():
    spec = ServiceTempest(
        options={"2023.1": {"x": {"a": 1, "b": True}}, "2025.1": {"x": {"a": 2}, "y": {"c": ["p", "q"]}}}
    )
    assert options_at(spec, SERIES, "2024.2") == {"x": {"a": 1, "b": True}}
    assert options_at(spec, SERIES, "2026.2") == {"x": {"a": 2, "b": True}, "y": {"c": ["p", "q"]}}


def test_lists_and_booleans_render_as_oslo_config_reads_them(tmp_path):
    services = {
        "s": ServiceTempest(options={"2023.1": {"identity-feature-enabled": {"api_extensions": ["a", "b"]}}})
    }
    parser = conf(services, "2024.1", tmp_path)
    assert parser["identity-feature-enabled"]["api_extensions"] == "a,b"


def test_the_run_directory_holds_log_and_locks(tmp_path):
    parser = conf(keystone(), "2024.1", tmp_path)
    assert parser["DEFAULT"]["log_dir"] == str(tmp_path)
    assert parser["oslo_concurrency"]["lock_path"] == str(tmp_path / "lock")


def _role(tmp_path: Path, text: str) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "ffulab.yml").write_text("kind: system\nsummary: s\ndeploy: d\n" + text)
    return tmp_path


def test_a_role_without_a_tempest_section_adds_nothing(tmp_path):
    assert Catalog.load(_role(tmp_path, ""))["svc"].tempest == ServiceTempest()


def test_an_unknown_series_in_a_tempest_section_is_named(data_root):
    path = data_root / "roles" / "keystone" / "ffulab.yml"
    path.write_text(path.read_text().replace('"2024.2":', '"2099.1":'))
    with pytest.raises(
        ConfigError, match=r"roles/keystone/ffulab.yml: tempest.options.2099.1: unknown series"
    ):
        resolve()


def test_an_unknown_key_in_a_tempest_section_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"roles/svc/ffulab.yml: tempest.service_avialable"):
        Catalog.load(_role(tmp_path, "tempest:\n  service_avialable: glance\n"))
