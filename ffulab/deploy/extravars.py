"""The variables the playbooks get: built here from the resolved config, the layout and the state.

Roles read only these (and the inventory's ``ctlplane_ip``): the release, each service's version and
artifact, the mirror's URL, the addresses of the lab's shared services, and the lab's generated
secrets. Secrets are kept under keys ending in ``_password`` or ``_keys`` (see :data:`SECRET_KEYS`)
so that :func:`redacted` can show the rest in logs and state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ffulab.config.schema import LabConfig
from ffulab.config.services import ServiceSpec
from ffulab.deploy.credentials import (
    ADMIN_PASSWORD_SECRET,
    REGION,
    admin_credentials,
    keystone_url,
    render_clouds_yaml,
    render_overcloudrc,
)
from ffulab.deploy.keys import key_repository
from ffulab.deploy.mirror import MIRROR_DIR, MIRROR_PORT, mirror_url
from ffulab.errors import FfulabError
from ffulab.provision.layout import Layout
from ffulab.secrets import lab_secret

if TYPE_CHECKING:
    from ffulab.context import Context

RENDER_DIR = "ansible/rendered"
"""Where role scripts holding secrets are rendered on the virthost (workspace, 0700) before they run."""
DATABASE_SERVICE = "mariadb"
CLIENT = "openstackclient"
SECRET_SUFFIXES = ("_password", "_passwords", "_keys", "_clouds_yaml", "_rc")


def redacted(extravars: dict[str, Any]) -> dict[str, Any]:
    """``extravars`` with every secret value replaced, fit for logs and state.json."""
    return {key: "********" if key.endswith(SECRET_SUFFIXES) else value for key, value in extravars.items()}


def artifact_map(index: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """The mirror index as series -> name -> {version, file, sha256, venv}, the way roles look it up."""
    artifacts: dict[str, dict[str, dict[str, str]]] = {}
    for entry in index["artifacts"]:
        artifacts.setdefault(entry["series"], {})[entry["name"]] = {
            "version": entry["version"],
            "file": entry["file"],
            "sha256": entry["sha256"],
            "venv": entry["venv"],
        }
    return artifacts


def undercloud_extravars(config: LabConfig, layout: Layout, index: dict[str, Any]) -> dict[str, Any]:
    """What ``playbooks/undercloud.yml`` needs: the mirror, the ctlplane, the client artifact."""
    undercloud = layout.node("undercloud")
    artifacts = artifact_map(index)
    client = artifacts.get(config.release.undercloud, {}).get(CLIENT)
    if client is None:
        raise FfulabError(
            f"the mirror index has no {CLIENT} for the undercloud's series {config.release.undercloud}"
        )
    return {
        "mirror_dir": MIRROR_DIR,
        "mirror_port": MIRROR_PORT,
        "mirror_bind": undercloud.ctlplane_ip,
        "ctlplane_cidr": layout.networks["ctlplane"].cidr,
        "openstackclient": client,
        "timezone": config.settings.timezone,
    }


def node_services(config: LabConfig) -> dict[str, list[str]]:
    """Role -> the services its nodes run, in deploy order (the lab file's order)."""
    return {role: list(spec.services) for role, spec in config.lab.roles.items()}


def first_node_with(config: LabConfig, layout: Layout, service: str) -> str | None:
    """The first overcloud node (config order) whose role runs ``service``: where a shared one lives."""
    for name, group in config.overcloud_nodes():
        role = config.lab.roles.get(group.role)
        if role and service in role.services:
            return layout.node(name).name
    return None


def overcloud_extravars(
    config: LabConfig,
    catalog: dict[str, ServiceSpec],
    layout: Layout,
    workspace: Path,
    index: dict[str, Any],
    release: str | None = None,
) -> dict[str, Any]:
    """What ``playbooks/overcloud.yml`` (and ``ffu.yml``) need to deploy the lab at ``release``.

    ``release`` defaults to N (``config.release.overcloud``); the FFU passes each release of its
    chain. ``index`` is the undercloud mirror's index (recorded by the undercloud phase).
    """
    release = release or config.release.overcloud
    undercloud = layout.node("undercloud")
    services = {service for role in config.lab.roles.values() for service in role.services}
    openstack = sorted(service for service in services if catalog[service].kind == "openstack")
    artifacts = artifact_map(index)
    missing = [service for service in openstack if service not in artifacts.get(release, {})]
    if missing:
        raise FfulabError(
            f"the undercloud's mirror has no {', '.join(missing)} for {release}: "
            "run the undercloud phase again (-t undercloud)"
        )
    extravars: dict[str, Any] = {
        "release": release,
        "ffu_chain": list(config.release.ffu_chain),
        "versions": dict(config.series[release].services),
        "artifacts": artifacts,
        "mirror_url": mirror_url(undercloud.ctlplane_ip, MIRROR_PORT),
        "undercloud_ctlplane_ip": undercloud.ctlplane_ip,
        "timezone": config.settings.timezone,
        "lab_roles": node_services(config),
        "ffulab_render_dir": str(workspace / RENDER_DIR),
    }
    database_node = first_node_with(config, layout, DATABASE_SERVICE)
    if database_node:
        extravars["database_host"] = layout.node(database_node).ctlplane_ip
        extravars["database_node"] = database_node
        extravars["database_passwords"] = {
            service: lab_secret(workspace, f"{service}_db_password") for service in openstack
        }
    elif openstack:
        raise FfulabError(
            f"the lab runs {', '.join(openstack)} but no role runs {DATABASE_SERVICE}: add it to a role"
        )
    keystone_node = first_node_with(config, layout, "keystone")
    if keystone_node:
        address = layout.node(keystone_node).ctlplane_ip
        extravars.update(
            {
                "keystone_node": keystone_node,
                "keystone_public_url": keystone_url(address),
                "keystone_region": REGION,
                "keystone_admin_password": lab_secret(workspace, ADMIN_PASSWORD_SECRET),
                "keystone_fernet_keys": key_repository(workspace, "fernet"),
                "keystone_credential_keys": key_repository(workspace, "credential"),
            }
        )
    return extravars


def deploy_extravars(ctx: Context, release: str | None = None) -> dict[str, Any]:
    """Everything the overcloud playbook gets at ``release`` (default N), undercloud credentials included."""
    mirror = (ctx.state.data.undercloud or {}).get("mirror")
    if not mirror:
        raise FfulabError(
            "the undercloud has no release mirror yet: run the undercloud phase first (-t undercloud)"
        )
    layout = Layout.from_dict(ctx.state.data.layout)
    extravars = overcloud_extravars(
        ctx.resolved.config, ctx.resolved.catalog, layout, ctx.workspace, mirror["index"], release
    )
    if "keystone_public_url" in extravars:
        credentials = admin_credentials(ctx.workspace, extravars["keystone_public_url"])
        extravars["overcloud_clouds_yaml"] = render_clouds_yaml(credentials)
        extravars["overcloud_rc"] = render_overcloudrc(credentials, layout.lab_id)
    return extravars
