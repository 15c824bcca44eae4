"""Resolve a lab config: find the layer files, merge them, validate, check.

Precedence (later wins): release-configs/common.yml < release config < lab < nodes <
job < job.overrides < ``-e key=value``. Nothing here creates anything: ``ffulab plan``
and every other command start from ``resolve()``.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ffulab.catalog import Catalog
from ffulab.config.checks import check_all, did_you_mean
from ffulab.config.merge import Origins, Path_, apply_override, format_path, merge_into, origin_of
from ffulab.config.schema import LabConfig
from ffulab.config.yamlio import load_yaml
from ffulab.errors import ConfigError
from ffulab.paths import data_root

KINDS = {"release": "release-configs", "lab": "labs", "nodes": "nodes", "job": "jobs"}
FLAGS = {"release": "-R/--release", "lab": "-c/--config", "nodes": "-N/--nodes", "job": "job"}
BASE_FILE = "release-configs/common.yml"


@dataclass
class Resolved:
    """A validated config plus where each of its layers came from."""

    config: LabConfig
    files: dict[str, str]
    overrides: list[str]
    catalog: Catalog
    origins: Origins = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "overrides": self.overrides,
            "config": self.config.model_dump(mode="json"),
        }


def available(kind: str, root: Path) -> list[str]:
    """Names of the shipped configs of one kind (``labs`` → ``keystone-only``, ``minimal``...)."""
    return sorted(p.stem for p in (root / KINDS[kind]).glob("*.yml") if p.stem not in ("common", "retired"))


def default_job(root: Path | None = None) -> str:
    """The shipped job marked ``default: true``: what ``ffulab run``, ``plan`` and ``job run`` take with
    no job named. The package names no job (nor service) itself: the data tree says which."""
    root = root or data_root()
    marked = []
    for name in available("job", root):
        section = (load_yaml(root / KINDS["job"] / f"{name}.yml", f"jobs/{name}.yml") or {}).get("job")
        if isinstance(section, dict) and section.get("default") is True:
            marked.append(name)
    if len(marked) != 1:
        found = ", ".join(f"jobs/{name}.yml" for name in marked) or "none"
        raise ConfigError(
            "jobs/", "job.default", f"exactly one job is the default, found {found}: name one with -j"
        )
    return marked[0]


RETIRED_FILE = "release-configs/retired.yml"


def retired_configs(root: Path) -> dict[str, dict[str, str]]:
    """Release config names of the seed documents that cannot run on today's Python, with why and what
    to use instead (release-configs/retired.yml)."""
    path = root / RETIRED_FILE
    return (load_yaml(path, RETIRED_FILE) or {}).get("retired", {}) if path.is_file() else {}


def locate(kind: str, ref: str, root: Path) -> tuple[Path, str]:
    """Find a layer by name (``1ctlr``) or path (``nodes/1ctlr.yml``); return the path and its label."""
    candidates = [Path(ref), root / ref, root / KINDS[kind] / ref, root / KINDS[kind] / f"{ref}.yml"]
    for path in candidates:
        if path.is_file():
            path = path.resolve()
            try:
                return path, str(path.relative_to(root))
            except ValueError:
                return path, str(path)
    if "/" in ref or ref.endswith((".yml", ".yaml")):
        raise ConfigError(ref, None, f"{kind} config file not found", f"given with {FLAGS[kind]}")
    retired = retired_configs(root).get(ref) if kind == "release" else None
    if retired:
        raise ConfigError(
            FLAGS[kind],
            None,
            f"'{ref}' is retired: {retired['why']}",
            f"its shape (undercloud at the newest series, overcloud N to N+3) is -R {retired['instead']}",
        )
    raise ConfigError(
        FLAGS[kind],
        None,
        f"no {kind} config named '{ref}' in {KINDS[kind]}/",
        did_you_mean(ref, available(kind, root)),
    )


def _schema_error(exc: ValidationError, origins: Origins) -> ConfigError:
    """Turn pydantic's first error into one message naming the file and the key.

    An unknown key comes first: a misspelt key also makes the real one "missing".
    """
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc: Path_ = tuple(error["loc"])
    key = format_path(loc)
    source = origin_of(loc, origins, "config")
    if error["type"] == "extra_forbidden":
        fields = _fields_at(LabConfig, loc[:-1])
        return ConfigError(source, key, f"unknown key '{loc[-1]}'", did_you_mean(str(loc[-1]), fields))
    if error["type"] == "missing":
        return ConfigError(source, key, "required key is missing")
    return ConfigError(source, key, f"{error['msg']} (got {error.get('input')!r})")


def _fields_at(model: type[BaseModel], path: Path_) -> list[str]:
    """The keys a model accepts at ``path``, for "did you mean" hints."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            current = info.annotation if info else None
        else:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
        while typing.get_origin(current) in (typing.Union, types.UnionType):
            current = next(a for a in typing.get_args(current) if a is not type(None))
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def resolve(
    job: str | None = None,
    release: str | None = None,
    lab: str | None = None,
    nodes: str | None = None,
    extra_vars: list[str] | None = None,
    root: Path | None = None,
) -> Resolved:
    """Merge and validate the layers; flags pick layers, the (default) job picks the rest."""
    root = root or data_root()
    picks: dict[str, str | None] = {"release": release, "lab": lab, "nodes": nodes}
    layers: list[tuple[str, dict[str, Any], str]] = []  # (kind, data, label)
    job_data: dict[str, Any] = {}
    job_label = ""
    if job or not all(picks.values()):
        job_path, job_label = locate("job", job or default_job(root), root)
        job_data = load_yaml(job_path, job_label)
        section = job_data.get("job")
        if not isinstance(section, dict):
            raise ConfigError(
                job_label, "job", "a job file needs a 'job:' section (name, release, lab, nodes)"
            )
        for kind in picks:
            if not picks[kind]:
                if not isinstance(section.get(kind), str):
                    raise ConfigError(job_label, f"job.{kind}", "required key is missing or not a name")
                picks[kind] = section[kind]
    files: dict[str, str] = {}
    base_path = root / BASE_FILE
    layers.append(("common", load_yaml(base_path, BASE_FILE), BASE_FILE))
    for kind, ref in picks.items():
        path, label = locate(kind, str(ref), root)
        files[kind] = label
        layers.append((kind, load_yaml(path, label), label))
    if job_data:
        files["job"] = job_label
        layers.append(("job", job_data, job_label))

    merged: dict[str, Any] = {}
    origins: Origins = {}
    for _, data, label in layers:
        merge_into(merged, data, label, origins)
    job_overrides = (merged.get("job") or {}).get("overrides")
    if isinstance(job_overrides, dict):
        merge_into(merged, job_overrides, f"{job_label} (job.overrides)", origins)
    for text in extra_vars or []:
        apply_override(merged, text, origins)

    try:
        config = LabConfig.model_validate(merged)
    except ValidationError as exc:
        raise _schema_error(exc, origins) from None
    catalog = Catalog.load(root / "roles")
    check_all(
        config,
        lambda path: origin_of(path, origins, "config"),
        catalog,
        root / "release-configs" / "constraints",
    )
    return Resolved(
        config=config, files=files, overrides=list(extra_vars or []), catalog=catalog, origins=origins
    )


def resolve_recorded(record: dict[str, Any]) -> Resolved:
    """Resolve again the config a lab was made with (``state.json``'s ``config``: files and ``-e``)."""
    files = record.get("files") or {}
    if not all(files.get(kind) for kind in ("release", "lab", "nodes")):
        raise ConfigError("state.json", "config.files", "the lab's config files are not recorded")
    return resolve(
        job=files.get("job"),
        release=files["release"],
        lab=files["lab"],
        nodes=files["nodes"],
        extra_vars=list(record.get("overrides") or []),
    )
