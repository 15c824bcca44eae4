"""The service catalog: what each role in roles/ tells ffulab about its service.

Each service is an Ansible role with a small ``roles/<service>/ffulab.yml`` beside
its tasks, so adding a service to a lab is adding a role, not editing the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class ServiceSpec(BaseModel):
    """What a service is and what it does in each pipeline phase and FFU step."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["openstack", "system"] = Field(
        description="openstack: a versioned PyPI release per series; system: from the guest image"
    )
    summary: str
    pypi: str | None = None
    packages: list[str] = Field(default_factory=list, description="Debian packages the guest image needs")
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


def load_catalog(roles_dir: Path) -> dict[str, ServiceSpec]:
    """Read every ``roles/*/ffulab.yml``; a malformed one is a ConfigError naming it."""
    catalog: dict[str, ServiceSpec] = {}
    for meta in sorted(roles_dir.glob("*/ffulab.yml")):
        label = f"roles/{meta.parent.name}/ffulab.yml"
        try:
            spec = ServiceSpec.model_validate(load_yaml(meta, label))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            raise ConfigError(label, key or None, error["msg"]) from None
        unknown = sorted(set(spec.ffu) - set(FFU_STEPS))
        if unknown:
            raise ConfigError(label, "ffu", f"unknown FFU step(s) {unknown}", "steps are 1-9")
        catalog[meta.parent.name] = spec
    return catalog
