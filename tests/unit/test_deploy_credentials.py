"""overcloudrc and clouds.yaml: what a person and openstackclient use after the deploy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from ffulab.deploy.credentials import (
    AdminCredentials,
    render_clouds_yaml,
    render_overcloudrc,
    write_overcloudrc,
)

CREDENTIALS = AdminCredentials(auth_url="http://192.168.101.10:5000/v3", password="s3cret-with'quote")


def test_overcloudrc_sourced_by_a_shell_gives_the_admin_environment():
    text = render_overcloudrc(CREDENTIALS, "keystone-only-abc123")
    assert text.startswith("# overcloud admin credentials of lab keystone-only-abc123")
    show = 'source /dev/stdin; echo "$OS_AUTH_URL|$OS_PASSWORD|$OS_PROJECT_NAME|$OS_REGION_NAME"'
    shown = subprocess.run(
        ["bash", "-c", show],
        input=text, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert shown == "http://192.168.101.10:5000/v3|s3cret-with'quote|admin|RegionOne"
    assert "OS_IDENTITY_API_VERSION=3" in text and "OS_USER_DOMAIN_NAME=Default" in text


def test_clouds_yaml_has_a_cloud_named_overcloud():
    clouds = yaml.safe_load(render_clouds_yaml(CREDENTIALS))
    cloud = clouds["clouds"]["overcloud"]
    assert cloud["auth"] == {
        "auth_url": "http://192.168.101.10:5000/v3",
        "username": "admin",
        "password": "s3cret-with'quote",
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    assert cloud["region_name"] == "RegionOne" and cloud["identity_api_version"] == 3


def test_overcloudrc_is_written_0600(tmp_path: Path):
    path = write_overcloudrc(tmp_path, render_overcloudrc(CREDENTIALS, "lab"))
    assert path == tmp_path / "overcloudrc"
    assert os.stat(path).st_mode & 0o777 == 0o600
    write_overcloudrc(tmp_path, "again\n")
    assert path.read_text() == "again\n" and os.stat(path).st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("*.tmp"))
