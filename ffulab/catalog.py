"""The service catalog: what each role in roles/ tells ffulab about its service, asked by every phase.

Each service is an Ansible role with a small ``roles/<service>/ffulab.yml`` beside its tasks (grenade's
``projects/<NN>_<service>/settings``, kolla-ansible's ``<service>_services``): its venv artifact, Debian
packages, generated secrets, databases, API, log paths, Tempest section, and what it does in each phase
and FFU step. The package knows no service by name: it asks the catalog which service *provides*
a capability (identity, database, messaging, cache, loadbalancer) and what each service declares, so
adding a service to a lab is adding a role, a lab file and its checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ffulab.config.schema import LabConfig
from ffulab.config.yamlio import load_yaml
from ffulab.errors import ConfigError

FFU_STEPS: dict[int, str] = {
    1: "disable cluster management",
    2: "stop services",
    3: "switch repositories to the next release",
    4: "database backups",
    5: "pre-package tasks",
    6: "package update",
    7: "post-package tasks",
    8: "database sync",
    9: "validation",
}
"""The TripleO FFU spec's steps: 1-3 prep (every node), 4-9 bootstrap (one node per role)."""

Capability = Literal["identity", "database", "messaging", "cache", "loadbalancer"]
"""What one service of a lab provides to the others (the first node running it serves the lab)."""
SECRET_NAME = r"^[a-z][a-z0-9_]{0,40}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VenvSpec(_Strict):
    """The prebuilt venv of an OpenStack service: one per series of the chain, on the undercloud's mirror."""

    pypi: str = Field(description="the PyPI project installed at the series' version")
    check: list[str] = Field(
        default_factory=list,
        description="a console script (and args) printing the version; default: metadata",
    )
    extras: list[str] = Field(default_factory=list, description="more PyPI packages in the venv")
    pins: dict[str, list[str]] = Field(
        default_factory=dict, description="series -> constraints added to its upper-constraints"
    )
    build_packages: list[str] = Field(
        default_factory=list,
        description="Debian packages its venv's build needs besides the builder root's (e.g. headers "
        "a compiled dependency links against); they never reach the guest image",
    )


class SecretSpec(_Strict):
    """A secret ffulab generates once per lab (0600, never logged): a password or a key repository."""

    kind: Literal["password", "fernet"] = "password"
    count: int = Field(
        1, ge=1, le=8, description="fernet: keys in the repository (0 staged, the last primary)"
    )


class ApiSpec(_Strict):
    """The service's HTTP API: served on loopback, published by the load balancer on the ctlplane address."""

    type: str = Field(description="the identity catalog's service type (identity, image, block-storage...)")
    port: int = Field(ge=1, le=65535)
    path: str = Field("", description="appended to http://<address>:<port> for the public URL")
    endpoint: str | None = Field(
        None, description="the catalog endpoint's suffix when not the path (e.g. /v3/%(project_id)s)"
    )
    poll: str | None = Field(None, description="what the downtime poller GETs (default: the path)")


class TempestSpec(_Strict):
    """What Tempest must know about the service (roles/<service>/ffulab.yml: tempest)."""

    service_available: str | None = Field(
        None, description="the service's key in tempest.conf [service_available]; none for identity"
    )
    regex: str | None = Field(None, description="the service's Tempest tests a job runs by default")
    options: dict[str, dict[str, dict[str, str | int | bool | list[str]]]] = Field(
        default_factory=dict, description="series -> section -> option -> value, from that series on"
    )


class ServiceSpec(_Strict):
    """What a service is and what it does in each pipeline phase and FFU step."""

    kind: Literal["openstack", "system"] = Field(
        description="openstack: a versioned venv per series; system: Debian packages of the guest image"
    )
    summary: str
    provides: list[Capability] = Field(default_factory=list)
    needs: list[Capability] = Field(default_factory=list, description="what another service must provide")
    artifact: VenvSpec | None = None
    packages: list[str] = Field(default_factory=list, description="Debian packages the guest image needs")
    secrets: dict[str, SecretSpec] = Field(
        default_factory=dict, description="generated per lab, besides db_password and service_password"
    )
    databases: list[str] = Field(default_factory=list, description="its databases on the database provider")
    api: ApiSpec | None = None
    logs: list[str] | None = Field(
        None, description="paths under / to collect; default etc/<svc>, var/log/<svc>"
    )
    listens: list[str] = Field(
        default_factory=list, description="the processes that listen on a port for the service (ss's names)"
    )
    kernel_listens: list[Annotated[str, StringConstraints(pattern=r"^(tcp|udp)/[0-9]{1,5}$")]] = Field(
        default_factory=list,
        description="ports the kernel holds open for the service, with no process (proto/port: Open "
        "vSwitch's geneve tunnel socket, udp/6081, bound once the chassis has a tunnel to another)",
    )
    units: list[str] = Field(
        default_factory=list,
        description="systemd units its Debian packages enable: the image holds every lab service's packages "
        "on every node, so these are stopped and masked on the nodes whose role does not run the service",
    )
    networks: list[Literal["external"]] = Field(
        default_factory=list,
        description="lab networks its nodes need a NIC on besides ctlplane (external: where floating IPs "
        "live, reached from the virthost, e.g. the OVN gateway's provider bridge)",
    )
    uses: list[Literal["workload_image"]] = Field(
        default_factory=list,
        description="what ffulab makes for the role besides its venv: workload_image, a tiny guest "
        "(Debian's cloud kernel + a busybox initramfs answering ping and TCP 80 with its uptime) on the "
        "undercloud's mirror, described by the extravar workload_image",
    )
    workload_probe: str | None = Field(
        None,
        description="a shell script in the role's files/ that tells what became of a workload that stopped "
        "answering: run as root on the workload's host with the server's ID as its argument, it prints "
        "one line (e.g. the instance's vCPU frozen, or running while its network is down)",
    )
    tempest: TempestSpec = Field(default_factory=TempestSpec)
    deploy: str
    ffu: dict[int, str] = Field(
        default_factory=dict, description="FFU step -> what runs, {release}/{version}"
    )
    final: str = ""
    resources: bool = Field(
        default=False,
        description="the role has tasks/resources_create.yml and resources_verify.yml: data made on the "
        "undercloud before the FFU and verified after it (phase resources)",
    )

    @model_validator(mode="after")
    def _openstack_has_an_artifact(self) -> ServiceSpec:
        if (self.kind == "openstack") != (self.artifact is not None):
            raise ValueError("an openstack service has an artifact (its venv), a system one has none")
        for name in self.secrets:
            if not re.match(SECRET_NAME, name):
                raise ValueError(f"secret name {name!r} must match {SECRET_NAME}")
        return self


class Service(ServiceSpec):
    """A catalog entry: the spec and the role's name."""

    name: str

    @property
    def registered(self) -> bool:
        """Its role registers a service user, the service and its endpoints in the identity service."""
        return self.api is not None and "identity" not in self.provides

    def secret_names(self) -> dict[str, SecretSpec]:
        """Every secret of the service: those it declares, a database password, a service-user password."""
        names = dict(self.secrets)
        if self.databases:
            names["db_password"] = SecretSpec()
        if self.registered:
            names["service_password"] = SecretSpec()
        return names

    def log_paths(self) -> list[str]:
        return self.logs if self.logs is not None else [f"etc/{self.name}", f"var/log/{self.name}"]


class Catalog(dict[str, Service]):
    """Every role with an ``ffulab.yml``, by name; and what a lab's services need from one another."""

    @classmethod
    def load(cls, roles_dir: Path) -> Catalog:
        """Read every ``roles/*/ffulab.yml``; a malformed one is a ConfigError naming it and the key."""
        catalog = cls()
        for meta in sorted(roles_dir.glob("*/ffulab.yml")):
            label = f"roles/{meta.parent.name}/ffulab.yml"
            data = load_yaml(meta, label) or {}
            try:
                service = Service.model_validate({**data, "name": meta.parent.name})
            except ValidationError as exc:
                error = exc.errors()[0]
                key = ".".join(str(part) for part in error["loc"])
                raise ConfigError(label, key or None, error["msg"]) from None
            if service.workload_probe and not (meta.parent / "files" / service.workload_probe).is_file():
                raise ConfigError(
                    label, "workload_probe", f"no file files/{service.workload_probe} in the role"
                )
            unknown = sorted(set(service.ffu) - set(FFU_STEPS))
            if unknown:
                raise ConfigError(label, "ffu", f"unknown FFU step(s) {unknown}", "steps are 1-9")
            catalog[service.name] = service
        return catalog

    def of_lab(self, config: LabConfig) -> list[Service]:
        """The lab's services, each once, in the order its roles list them (the deploy order)."""
        names = dict.fromkeys(name for role in config.lab.roles.values() for name in role.services)
        return [self[name] for name in names]

    def openstack(self, config: LabConfig) -> list[Service]:
        return [service for service in self.of_lab(config) if service.kind == "openstack"]

    def apis(self, config: LabConfig) -> list[Service]:
        return [service for service in self.of_lab(config) if service.api]

    def external_roles(self, config: LabConfig) -> set[str]:
        """The node roles some service of which needs a NIC on the lab's external network."""
        return {
            role
            for role, spec in config.lab.roles.items()
            if any("external" in self[name].networks for name in spec.services)
        }

    def uses(self, config: LabConfig, what: str) -> bool:
        """Whether some service of the lab uses ``what`` (catalog ``uses``: e.g. workload_image)."""
        return any(what in service.uses for service in self.of_lab(config))

    def provider(self, config: LabConfig, capability: str) -> Service | None:
        """The lab's service providing ``capability`` (the first in lab order), if any."""
        return next((s for s in self.of_lab(config) if capability in s.provides), None)

    def missing_providers(self, config: LabConfig) -> list[tuple[str, str]]:
        """(service, capability) for each need of a lab service that no service of the lab provides."""
        provided = {capability for service in self.of_lab(config) for capability in service.provides}
        return [(s.name, need) for s in self.of_lab(config) for need in s.needs if need not in provided]
