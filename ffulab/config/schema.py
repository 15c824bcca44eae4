"""The schema of a resolved lab config: release < lab < nodes < job < -e, merged.

Shape checks live here (types, ranges, unknown keys); cross-references between the
layers (series in a chain, roles of nodes, services of a lab) live in ``checks.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MIN_MEMORY_MIB = 1024
NODE_NAME = r"^[a-z][a-z0-9-]{0,40}$"
CPU_FEATURE = r"^[a-z][a-z0-9_-]{0,30}$"
VALIDATIONS = ("tempest", "services", "resources")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesSpec(_Strict):
    """One OpenStack series: its codename, library pins and service versions."""

    codename: str
    slurp: bool = Field(False, description="a SLURP release: upgrades skip straight to the next SLURP one")
    constraints: str = Field(description="upper-constraints file under release-configs/constraints/")
    services: dict[str, str] = Field(default_factory=dict, description="service -> released version")


class ReleaseSpec(_Strict):
    """What the undercloud and overcloud run and the FFU chain between N and N+3."""

    name: str
    description: str = ""
    undercloud: str
    overcloud: str
    ffu_chain: list[str] = Field(min_length=2)
    update_from: dict[str, str] = Field(
        default_factory=dict,
        description="service -> an older point release of N: the lab is deployed there, then updated to N's "
        "pins one node at a time (phase update) before the upgrade",
    )
    path: Literal["ffu", "slurp"] = Field(
        "ffu",
        description="ffu: through every release N -> N+3; slurp: one skip-level hop N -> N+2 between "
        "SLURP releases (series.<s>.slurp)",
    )


class ImageSpec(_Strict):
    """The guest image recipe; services add their Debian packages to it."""

    suite: str = "bookworm"
    mirror: str | None = None
    packages: list[str] = Field(default_factory=list)
    size_gib: int = Field(6, ge=3, le=200)


class RoleSpec(_Strict):
    """An overcloud role: the services its nodes run."""

    description: str = ""
    services: list[str] = Field(min_length=1)


class LabSpec(_Strict):
    """The service set under test (tripleo-quickstart's general config)."""

    name: str
    description: str = ""
    roles: dict[str, RoleSpec] = Field(min_length=1)


class UndercloudSpec(_Strict):
    memory: int = Field(ge=MIN_MEMORY_MIB, description="MiB")
    vcpus: int = Field(ge=1, le=64)
    disk: int = Field(ge=4, le=2000, description="GiB")


class NodeSpec(UndercloudSpec):
    """A group of ``count`` overcloud nodes named ``<name>-0`` ... ``<name>-<count-1>``."""

    name: str = Field(pattern=NODE_NAME)
    role: str
    count: int = Field(1, ge=1, le=9)
    cpu_features: list[Annotated[str, StringConstraints(pattern=CPU_FEATURE)]] = Field(
        default_factory=list,
        description="CPU features the nodes get on top of TCG's default model (libvirt's names): npt and "
        "vgif give KVM inside a compute node nested paging and a virtual GIF, so it shadows no page table "
        "of its instances (docs/design.md, 'Nested paging for the computes'); ignored when the lab runs "
        "on KVM",
    )

    def node_names(self) -> list[str]:
        return [f"{self.name}-{index}" for index in range(self.count)]


class NodesSpec(_Strict):
    """The topology: undercloud and overcloud node groups."""

    name: str
    description: str = ""
    undercloud: UndercloudSpec
    overcloud: list[NodeSpec] = Field(min_length=1)


class JobSpec(_Strict):
    """A named release + lab + nodes with its validations, as a CI system runs it."""

    name: str
    description: str = ""
    release: str
    lab: str
    nodes: str
    validations: list[Literal[VALIDATIONS]] = Field(default_factory=lambda: list(VALIDATIONS))  # type: ignore[valid-type]
    tempest_regex: str | None = Field(
        None,
        description="the Tempest tests to run (stestr regex); default: the tests each service of the lab "
        "names (roles/<svc>/ffulab.yml: tempest.regex)",
    )
    overrides: dict = Field(default_factory=dict, description="applied after the job, before -e")
    default: bool = Field(
        False, description="the job 'ffulab run' and 'ffulab job run' take with no job named (exactly one)"
    )


class TempestSpec(_Strict):
    """The Tempest that validates every lab. Tempest is branchless: one release tests the maintained
    series of its time, so one pin serves the whole FFU chain (N and N+3 alike)."""

    version: str = Field(description="tempest release on PyPI")
    constraints: str = Field(description="the series whose upper-constraints pin Tempest's libraries")
    concurrency: int = Field(1, ge=1, le=16, description="stestr workers")
    service_available: list[str] = Field(
        default_factory=list,
        description="Tempest's [service_available] keys (each true by default in Tempest): false unless a "
        "service of the lab names it (roles/<svc>/ffulab.yml: tempest.service_available)",
    )


class SnapshotSettings(_Strict):
    auto: bool = True
    keep_releases: bool = Field(
        False,
        description="keep every ffu-<release> snapshot; by default an intermediate release's goes once the "
        "next release's is taken (each holds the memory of every node: disk is the cost)",
    )
    keep_superseded: bool = Field(
        False,
        description="keep undercloud-ready once overcloud-deployed is taken; by default it goes (a lab is "
        "redeployed from overcloud-deployed, and each snapshot holds the memory of every node)",
    )
    rolling: bool | None = Field(
        None,
        description="a snapshot 'ffu-step' before each FFU step that does work, replaced as the FFU moves "
        "on, so a failed step's rerun starts right there; default: on for ffulab run/ffu, off for job run",
    )


class DataplaneSettings(_Strict):
    """tripleo-upgrade's limits on the workload's pings through the FFU; the goal is no loss at all."""

    max_outage: float = Field(60.0, ge=0, description="seconds: a longer outage fails the job")
    max_loss_percent: float = Field(
        1.0, ge=0, le=100, description="a larger share of lost pings fails the job"
    )


class FfuSettings(_Strict):
    canary: bool = Field(
        default=False,
        description="the first node of the lab's last role (the computes) goes alone before the others of "
        "its role at each step, and at the final deploy it is checked (every resource, its workloads "
        "among them) before any other moves",
    )
    dataplane: DataplaneSettings = Field(default_factory=DataplaneSettings)
    parallel: bool = Field(
        default=True,
        description="at each step a node runs its services' parts side by side (each has its own database "
        "and venv); false: one after the other, in the lab's order",
    )
    rollback_drill: bool = Field(
        default=False,
        description="after step 4 of the first release restore the backups and N, verify, then upgrade",
    )


class DeploySettings(_Strict):
    idempotence: bool = Field(
        False, description="run the overcloud deploy twice; fail if the second run changes anything"
    )
    parallel: bool = Field(
        True,
        description="a node deploys its OpenStack services side by side once its base services (database, "
        "message bus, cache, load balancer) are up, each waiting for the identity API it needs",
    )


class ArtifactsSettings(_Strict):
    publish_backups: bool = Field(
        False,
        description="copy FFU step 4's database dumps (credentials, password hashes) into the artifacts",
    )


class Settings(_Strict):
    """Knobs of the lab itself rather than of what it deploys."""

    virthost: str = "auto"
    timezone: str = "UTC"
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    ffu: FfuSettings = Field(default_factory=FfuSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    artifacts: ArtifactsSettings = Field(default_factory=ArtifactsSettings)


class LabConfig(_Strict):
    """The merged, validated configuration of one lab."""

    series: dict[str, SeriesSpec]
    release: ReleaseSpec
    image: ImageSpec = Field(default_factory=ImageSpec)
    lab: LabSpec
    nodes: NodesSpec
    job: JobSpec | None = None
    tempest: TempestSpec | None = None
    settings: Settings = Field(default_factory=Settings)

    def overcloud_nodes(self) -> list[tuple[str, NodeSpec]]:
        """Every overcloud node name with the group it belongs to, in config order."""
        return [(name, group) for group in self.nodes.overcloud for name in group.node_names()]
