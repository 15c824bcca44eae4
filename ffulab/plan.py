"""The whole plan of a lab, derived from its resolved config: phases, FFU releases x steps.

What a step does for a service comes from ``roles/<service>/ffulab.yml``; the plan
only places it: prep steps (1-3) run on every node of a role, bootstrap steps (4-9)
on one node per role, as in the TripleO FFU spec.
"""

from __future__ import annotations

from typing import Any

from ffulab.catalog import FFU_STEPS
from ffulab.config.resolve import Resolved
from ffulab.ffu.positions import FINAL_STEP, PREP_STEPS, positions
from ffulab.phases import PHASES


def _role_nodes(resolved: Resolved) -> dict[str, list[str]]:
    nodes: dict[str, list[str]] = {}
    for name, group in resolved.config.overcloud_nodes():
        nodes.setdefault(group.role, []).append(name)
    return nodes


def _lab_versions(resolved: Resolved, release: str) -> dict[str, str]:
    """The versions the lab's OpenStack services have at ``release`` (the release config's pins)."""
    pins = resolved.config.series[release].services
    return {s.name: pins[s.name] for s in resolved.catalog.openstack(resolved.config) if s.name in pins}


def _fill(text: str, release: str, versions: dict[str, str], service: str) -> str:
    return text.format(release=release, version=versions.get(service, release))


def ffu_plan(resolved: Resolved) -> dict[str, Any]:
    """Intermediate releases with steps 1-9, then the final deploy at N+3."""
    config = resolved.config
    chain = config.release.ffu_chain
    role_nodes = _role_nodes(resolved)
    releases = []
    stepped = dict.fromkeys(
        release for release, step in positions(chain, config.release.path) if step != FINAL_STEP
    )
    for release in stepped:
        versions = _lab_versions(resolved, release)
        steps = []
        for step, title in FFU_STEPS.items():
            runs = []
            for role, spec in config.lab.roles.items():
                nodes = role_nodes.get(role, [])
                if not nodes:
                    continue
                targets = nodes if step in PREP_STEPS else nodes[:1]
                for service in spec.services:
                    what = resolved.catalog[service].ffu.get(step)
                    if what:
                        runs.append(
                            {
                                "role": role,
                                "service": service,
                                "nodes": targets,
                                "does": _fill(what, release, versions, service),
                            }
                        )
            steps.append(
                {
                    "step": step,
                    "title": title,
                    "scope": "prep" if step in PREP_STEPS else "bootstrap",
                    "runs": runs,
                }
            )
        releases.append({"release": release, "versions": dict(versions), "steps": steps})
    final = chain[-1]
    final_versions = _lab_versions(resolved, final)
    final_runs = [
        {
            "role": role,
            "service": service,
            "nodes": role_nodes.get(role, []),
            "does": _fill(text, final, final_versions, service),
        }
        for role, spec in config.lab.roles.items()
        if role_nodes.get(role)
        for service in spec.services
        if (text := resolved.catalog[service].final or resolved.catalog[service].deploy)
    ]
    return {
        "chain": chain,
        "path": config.release.path,
        "releases": releases,
        "final": {"release": final, "versions": dict(final_versions), "runs": final_runs},
    }


def build_plan(resolved: Resolved) -> dict[str, Any]:
    """Everything ``ffulab plan`` shows, as plain data (``--json`` prints exactly this)."""
    config = resolved.config
    overcloud = config.release.overcloud
    return {
        **resolved.to_dict(),
        "nodes": [
            {"name": "undercloud", "role": "undercloud", **config.nodes.undercloud.model_dump()},
            *[
                {"name": name, "role": group.role, **group.model_dump(include={"memory", "vcpus", "disk"})}
                for name, group in config.overcloud_nodes()
            ],
        ],
        "deploy": {
            "release": overcloud,
            "versions": _lab_versions(resolved, overcloud),
            "roles": {role: spec.services for role, spec in config.lab.roles.items()},
        },
        "phases": [{"name": phase.name, "summary": phase.summary} for phase in PHASES],
        "ffu": ffu_plan(resolved),
    }
