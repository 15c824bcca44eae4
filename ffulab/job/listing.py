"""``ffulab job list``: the shipped jobs (``jobs/*.yml``) with what each one runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ffulab.config.resolve import available, locate
from ffulab.config.yamlio import load_yaml
from ffulab.errors import ConfigError
from ffulab.paths import data_root

FIELDS = ("release", "lab", "nodes")


@dataclass(frozen=True)
class JobInfo:
    """One job file's ``job:`` section, as a CI system and ``job list`` read it."""

    name: str
    description: str
    release: str
    lab: str
    nodes: str
    file: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_jobs(root: Path | None = None) -> list[JobInfo]:
    """Every job under ``jobs/``, by name. A job's name is its file's name, so that
    ``ffulab job run NAME`` and an exported Zuul job always mean the same file."""
    root = root or data_root()
    jobs = []
    for stem in available("job", root):
        path, label = locate("job", stem, root)
        section = load_yaml(path, label).get("job")
        if not isinstance(section, dict):
            raise ConfigError(label, "job", "a job file needs a 'job:' section (name, release, lab, nodes)")
        if section.get("name") != stem:
            raise ConfigError(label, "job.name", f"is {section.get('name')!r}, not the file's name {stem!r}")
        for key in FIELDS:
            if not isinstance(section.get(key), str):
                raise ConfigError(label, f"job.{key}", "required key is missing or not a name")
        jobs.append(
            JobInfo(
                name=stem,
                description=str(section.get("description", "")),
                file=label,
                **{key: section[key] for key in FIELDS},
            )
        )
    return jobs
