"""Helpers for the deploy tests: a lab's resolved config and layout, and a mirror index built from nothing."""

from __future__ import annotations

from pathlib import Path

from ffulab.artifacts import plan_artifacts
from ffulab.config.resolve import resolve
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for


def lab(tmp_path: Path, **flags):
    resolved = resolve(**flags)
    config = resolved.config
    layout = build_layout(config, lab_id_for(config.lab.name, tmp_path), allocate_subnets([]))
    return resolved, layout


def fake_index(resolved) -> dict:
    """What mirror_index would say of the lab's artifacts, without building any."""
    return {
        "artifacts": [
            {
                "name": r.name,
                "version": r.version,
                "series": r.series,
                "file": f"{r.series}/{r.name}-{r.version}.tar.zst",
                "sha256": f"{len(r.name):064x}",
                "size": 1000,
                "venv": f"/opt/openstack/{r.name}-{r.version}",
            }
            for r in plan_artifacts(resolved)
        ]
    }
