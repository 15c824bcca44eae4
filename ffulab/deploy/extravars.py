"""The variables the playbooks get, from the resolved config, the catalog, the layout and the state.

Roles read only these (and the inventory's ``ctlplane_ip``): the release, each service's artifact on the
mirror, where each service runs, the provider of each capability (database, messaging, cache,
identity, load balancer), every API's addresses, the lab's generated secrets (``secrets.<service>``),
the databases to create, and the overcloud admin's credentials. Nothing here names a service: the
catalog (roles/<svc>/ffulab.yml) says what each declares.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ffulab.catalog import Catalog, SecretSpec, Service
from ffulab.config.schema import LabConfig
from ffulab.deploy.ansible import RENDER_DIR
from ffulab.deploy.credentials import (
    ADMIN_PASSWORD_SECRET,
    REGION,
    admin_credentials,
    render_clouds_yaml,
    render_overcloudrc,
)
from ffulab.deploy.mirror import MIRROR_DIR, MIRROR_PORT, mirror_url
from ffulab.errors import FfulabError
from ffulab.provision.layout import Layout
from ffulab.secrets import lab_secret, secret_values

if TYPE_CHECKING:
    from ffulab.context import Context

CLIENT = "openstackclient"
MASK = "********"


def redacted(value: Any, secrets: list[str]) -> Any:
    """``value`` (any JSON-like structure) with every secret replaced, wherever it appears: for logs."""
    if isinstance(value, dict):
        return {key: redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            if secret:
                value = value.replace(secret, MASK)
    return value


def fernet_key() -> str:
    """A Fernet key as ``cryptography.fernet.Fernet.generate_key()`` makes it: urlsafe base64 of 32 bytes.

    ``keystone-manage fernet_setup`` costs ~50 s of Python start-up in a TCG guest for 32 random bytes:
    ffulab makes the keys on the virthost, once per lab, as TripleO did on the undercloud."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def service_secret(workspace: Path, service: str, name: str, spec: SecretSpec) -> str | dict[str, str]:
    """One secret of ``service``: a password, or a key repository (file name ``0``... -> key)."""
    if spec.kind == "fernet":
        return {
            str(index): lab_secret(workspace, f"{service}_{name}_{index}", generate=fernet_key)
            for index in range(spec.count)
        }
    return lab_secret(workspace, f"{service}_{name}")


def service_secrets(workspace: Path, services: list[Service]) -> dict[str, dict[str, Any]]:
    """``secrets.<service>.<name>`` for the roles, generated the first time, the same ever after."""
    return {
        service.name: {
            name: service_secret(workspace, service.name, name, spec)
            for name, spec in service.secret_names().items()
        }
        for service in services
    }


def artifact_map(
    index: dict[str, Any], chosen: dict[str, dict[str, str]] | None = None
) -> dict[str, dict[str, dict[str, str]]]:
    """The mirror index as series -> name -> {version, file, sha256, venv}, the way roles look it up.

    A name the mirror has in two versions at a series (a minor update's older point release beside the
    series' own) maps to the version ``chosen[series][name]`` names, else to the first one listed.
    """
    artifacts: dict[str, dict[str, dict[str, str]]] = {}
    for entry in index["artifacts"]:
        wanted = (chosen or {}).get(entry["series"], {}).get(entry["name"])
        known = artifacts.setdefault(entry["series"], {})
        if entry["name"] in known and wanted != entry["version"]:
            continue
        known[entry["name"]] = {
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


def service_nodes(config: LabConfig, layout: Layout) -> dict[str, list[str]]:
    """Service -> the overcloud nodes running it, in config order (the first one serves the lab)."""
    nodes: dict[str, list[str]] = {}
    for name, group in config.overcloud_nodes():
        for service in config.lab.roles[group.role].services:
            nodes.setdefault(service, []).append(layout.node(name).name)
    return nodes


def api_urls(service: Service, host: str) -> dict[str, Any]:
    """A service's API as the roles, the poller and Tempest use it (published on ``host``)."""
    api = service.api
    assert api is not None
    base = f"http://{host}:{api.port}"
    return {
        "type": api.type,
        "port": api.port,
        "host": host,
        "url": base + api.path,
        "endpoint": base + (api.endpoint if api.endpoint is not None else api.path),
        "poll": base + (api.poll if api.poll is not None else api.path),
    }


def lab_apis(config: LabConfig, catalog: Catalog, layout: Layout) -> dict[str, dict[str, Any]]:
    """Service -> its API, published on the first node running it."""
    where = service_nodes(config, layout)
    return {
        service.name: api_urls(service, layout.node(where[service.name][0]).ctlplane_ip)
        for service in catalog.apis(config)
        if where.get(service.name)
    }


def providers(config: LabConfig, catalog: Catalog, layout: Layout) -> dict[str, dict[str, str]]:
    """Capability -> {service, node, host}: who serves the lab's database, messaging, cache, identity..."""
    where = service_nodes(config, layout)
    found = {}
    for service in catalog.of_lab(config):
        for capability in service.provides:
            if capability not in found and where.get(service.name):
                node = where[service.name][0]
                found[capability] = {
                    "service": service.name,
                    "node": node,
                    "host": layout.node(node).ctlplane_ip,
                }
    return found


FLOATING_HOSTS = (100, 199)
"""The external network's host numbers for floating IPs: nodes take .10 on, libvirt's DHCP .200-.250."""


def lab_networks(layout: Layout) -> dict[str, dict[str, Any]]:
    """Each lab network's CIDR, prefix and gateway (the virthost's bridge); the external network also
    its floating IP range (neutron's provider network: the virthost reaches floating IPs on-link)."""
    networks: dict[str, dict[str, Any]] = {}
    for kind, network in layout.networks.items():
        net = ipaddress.ip_network(network.cidr)
        networks[kind] = {"cidr": network.cidr, "prefix": net.prefixlen, "gateway": network.gateway}
        if kind == "external":
            first, last = FLOATING_HOSTS
            networks[kind] |= {
                "floating_start": str(net.network_address + first),
                "floating_end": str(net.network_address + last),
            }
    return networks


def overcloud_extravars(
    config: LabConfig,
    catalog: Catalog,
    layout: Layout,
    workspace: Path,
    index: dict[str, Any],
    release: str | None = None,
    versions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``playbooks/overcloud.yml`` (and ``ffu.yml``) need to deploy the lab at ``release``.

    ``release`` defaults to N (``config.release.overcloud``); the FFU passes each release of its
    chain. ``index`` is the undercloud mirror's index (recorded by the undercloud phase). ``versions``
    picks other versions of ``release`` than its pins (N at the older point release of a minor update).
    """
    release = release or config.release.overcloud
    undercloud = layout.node("undercloud")
    services = catalog.of_lab(config)
    chosen = {name: dict(spec.services) for name, spec in config.series.items()}
    chosen[release] = {**chosen[release], **(versions or {})}
    artifacts = artifact_map(index, chosen)
    missing = [s.name for s in catalog.openstack(config) if s.name not in artifacts.get(release, {})]
    if missing:
        raise FfulabError(
            f"the undercloud's mirror has no {', '.join(missing)} for {release}: "
            "run the undercloud phase again (-t undercloud)"
        )
    absent = catalog.missing_providers(config)
    if absent:
        raise FfulabError(
            "; ".join(f"{service} needs a {need} service the lab lacks" for service, need in absent)
        )
    secrets = service_secrets(workspace, services)
    apis = lab_apis(config, catalog, layout)
    extravars: dict[str, Any] = {
        "release": release,
        "ffu_chain": list(config.release.ffu_chain),
        "versions": {name: artifacts[release][name]["version"] for name in artifacts.get(release, {})},
        "artifacts": artifacts,
        "mirror_url": mirror_url(undercloud.ctlplane_ip, MIRROR_PORT),
        "undercloud_ctlplane_ip": undercloud.ctlplane_ip,
        "timezone": config.settings.timezone,
        "region": REGION,
        "lab_roles": node_services(config),
        "lab_services": [service.name for service in services],
        "service_nodes": service_nodes(config, layout),
        "lab_networks": lab_networks(layout),
        "node_nics": {node.name: node.nics for node in layout.nodes if not node.undercloud},
        "providers": providers(config, catalog, layout),
        "apis": apis,
        "registered": [service.name for service in services if service.registered],
        "secrets": secrets,
        "databases": [
            {
                "service": service.name,
                "name": name,
                "user": service.name,
                "password": secrets[service.name]["db_password"],
            }
            for service in services
            for name in service.databases
        ],
        "ffulab_render_dir": str(workspace / RENDER_DIR),
        "ffulab_deploy_parts": config.settings.deploy.parallel,
    }
    identity = catalog.provider(config, "identity")
    if identity is not None and identity.name in apis:
        extravars["identity"] = {
            "url": apis[identity.name]["url"],
            "admin_user": "admin",
            "admin_project": "admin",
            "admin_password": lab_secret(workspace, ADMIN_PASSWORD_SECRET),
        }
    return extravars


def deploy_extravars(ctx: Context, release: str | None = None) -> dict[str, Any]:
    """Everything the overcloud playbook gets at ``release`` (default N), undercloud credentials included.

    At N, until the minor update (``release.update_from``) starts, the services it names are at their
    older point release."""
    mirror = (ctx.state.data.undercloud or {}).get("mirror")
    if not mirror:
        raise FfulabError(
            "the undercloud has no release mirror yet: run the undercloud phase first (-t undercloud)"
        )
    layout = Layout.from_dict(ctx.state.data.layout)
    config = ctx.resolved.config
    release = release or config.release.overcloud
    pending = release == config.release.overcloud and ctx.state.data.update is None
    versions = config.release.update_from if pending else None
    extravars = overcloud_extravars(
        config, ctx.resolved.catalog, layout, ctx.workspace, mirror["index"], release, versions
    )
    if "identity" in extravars:
        credentials = admin_credentials(ctx.workspace, extravars["identity"]["url"])
        extravars["overcloud_clouds_yaml"] = render_clouds_yaml(credentials)
        extravars["overcloud_rc"] = render_overcloudrc(credentials, layout.lab_id)
    return extravars


def log_safe(workspace: Path, extravars: dict[str, Any]) -> dict[str, Any]:
    """``extravars`` with every secret of the lab masked by value: what a log may show."""
    return redacted(extravars, secret_values(workspace))
