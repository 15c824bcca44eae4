"""The overcloud's admin credentials as a person and a client use them: overcloudrc and clouds.yaml.

TripleO leaves ``overcloudrc`` after a deploy; ffulab writes it in the workspace (0600) and puts the
same credentials on the undercloud as ``clouds.yaml`` (cloud ``overcloud``) and ``/root/overcloudrc``,
so ``openstack --os-cloud overcloud ...`` works there. Lab addresses are reachable only from the
undercloud (or the sandbox netns), never from the host's own namespace.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from ffulab.secrets import lab_secret

OVERCLOUDRC = "overcloudrc"
CLOUD_NAME = "overcloud"
ADMIN_PASSWORD_SECRET = "admin_password"
"""The overcloud admin's password: the lab's own (TripleO's AdminPassword), whatever serves identity."""
REGION = "RegionOne"


@dataclass(frozen=True)
class AdminCredentials:
    auth_url: str
    password: str
    username: str = "admin"
    project: str = "admin"
    domain: str = "Default"
    region: str = REGION

    def environment(self) -> dict[str, str]:
        """The ``OS_*`` variables of an rc file, in the order people expect to read them."""
        return {
            "OS_AUTH_URL": self.auth_url,
            "OS_AUTH_TYPE": "password",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": self.username,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project,
            "OS_USER_DOMAIN_NAME": self.domain,
            "OS_PROJECT_DOMAIN_NAME": self.domain,
            "OS_REGION_NAME": self.region,
            "OS_INTERFACE": "public",
        }


def render_overcloudrc(credentials: AdminCredentials, lab_id: str) -> str:
    lines = [
        f"# overcloud admin credentials of lab {lab_id}, written by ffulab",
        "# the address is on the lab's ctlplane: use it on the undercloud or in the virthost's netns",
        *(f"export {name}={shlex.quote(value)}" for name, value in credentials.environment().items()),
    ]
    return "\n".join(lines) + "\n"


def render_clouds_yaml(credentials: AdminCredentials, cloud: str = CLOUD_NAME) -> str:
    entry = {
        "auth": {
            "auth_url": credentials.auth_url,
            "username": credentials.username,
            "password": credentials.password,
            "project_name": credentials.project,
            "user_domain_name": credentials.domain,
            "project_domain_name": credentials.domain,
        },
        "auth_type": "password",
        "identity_api_version": 3,
        "region_name": credentials.region,
        "interface": "public",
    }
    return "# written by ffulab\n" + yaml.safe_dump({"clouds": {cloud: entry}}, sort_keys=False)


def write_overcloudrc(workspace: Path, text: str) -> Path:
    """``<workspace>/overcloudrc``, created 0600 (never readable by others, not even briefly)."""
    path = workspace / OVERCLOUDRC
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path


def admin_credentials(workspace: Path, auth_url: str) -> AdminCredentials:
    """The overcloud admin's credentials: the lab's generated password at ``auth_url``."""
    return AdminCredentials(auth_url=auth_url, password=lab_secret(workspace, ADMIN_PASSWORD_SECRET))
