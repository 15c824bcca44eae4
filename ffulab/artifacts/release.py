"""The artifacts of a lab's release: every OpenStack service of the lab at every series of the FFU chain,
plus the undercloud's openstackclient; and the locks that pin them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffulab.artifacts.build import CLIENT, SERVICE_EXTRAS, Artifact, ArtifactSpec, ensure_artifact
from ffulab.artifacts.lock import constraint_pin, lock_path, write_lock
from ffulab.artifacts.roots import builder_recipe, ensure_root, runtime_recipe
from ffulab.catalog import Catalog, Service
from ffulab.config.schema import LabConfig
from ffulab.errors import ArtifactError
from ffulab.paths import data_root

Progress = Callable[[str], None]
CONSTRAINTS_DIR = "release-configs/constraints"


@dataclass(frozen=True)
class ArtifactRequest:
    """One artifact a lab needs: ``name`` at ``version`` for ``series``, with its pins on disk."""

    spec: ArtifactSpec
    version: str
    series: str
    constraints: Path
    lock: Path | None
    """Where its lock lives (or would live): release-configs/locks/<series>/<name>.txt; None: a minor
    update's older point release, built from the series' constraints alone."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def project(self) -> str:
        return self.spec.project

    def existing_lock(self) -> Path | None:
        return self.lock if self.lock and self.lock.is_file() else None


def artifact_spec(service: Service, series: str) -> ArtifactSpec:
    """The venv of ``service`` at ``series`` as its ffulab.yml declares it."""
    venv = service.artifact
    if venv is None:
        raise ArtifactError(service.name, "a system service has no artifact")
    return ArtifactSpec(
        service.name,
        venv.pypi,
        (*SERVICE_EXTRAS, *venv.extras),
        tuple(venv.check),
        tuple(venv.pins.get(series, ())),
        tuple(sorted(venv.build_packages)),
    )


def _config_and_catalog(config: Any, root: Path) -> tuple[LabConfig, Catalog]:
    """Accept a Resolved (from ffulab.config.resolve), a LabConfig, or its plain dict."""
    if hasattr(config, "config") and hasattr(config, "catalog"):
        return config.config, config.catalog
    if isinstance(config, dict):
        config = LabConfig.model_validate(config)
    return config, Catalog.load(root / "roles")


def plan_artifacts(
    config: Any,
    root: Path | None = None,
    series: Iterable[str] | None = None,
    services: Iterable[str] | None = None,
) -> list[ArtifactRequest]:
    """What a lab needs, building nothing: the lab's OpenStack services at each series of the FFU chain
    (or of ``series``) and openstackclient at the undercloud's series; ``services`` filters by name.
    """
    root = root or data_root()
    lab, catalog = _config_and_catalog(config, root)
    wanted = set(services) if services is not None else None
    requests: list[ArtifactRequest] = []
    for service in catalog.openstack(lab):
        if wanted is not None and service.name not in wanted:
            continue
        for serie in series if series is not None else lab.release.ffu_chain:
            requests.append(_request(lab, root, serie, artifact_spec(service, serie)))
        older = lab.release.update_from.get(service.name)
        n = lab.release.overcloud
        if older and (series is None or n in series):
            requests.append(_request(lab, root, n, artifact_spec(service, n), version=older))
    if wanted is None or CLIENT.name in wanted:
        serie = lab.release.undercloud
        if series is None or serie in series:
            requests.append(_request(lab, root, serie, CLIENT))
    return requests


def _request(
    lab: LabConfig, root: Path, serie: str, artifact: ArtifactSpec, version: str | None = None
) -> ArtifactRequest:
    name, project = artifact.name, artifact.project
    spec = lab.series.get(serie)
    if spec is None:
        raise ArtifactError(f"{name} at {serie}", f"series {serie} is not in the config's series")
    constraints = root / CONSTRAINTS_DIR / spec.constraints
    if not constraints.is_file():
        raise ArtifactError(f"{name} at {serie}", f"constraints file {constraints} not found")
    lock = lock_path(root, serie, name) if version is None else None
    version = version or spec.services.get(name) or spec.services.get(project)
    if not version and name == CLIENT.name:
        version = constraint_pin(constraints, project)  # the client's release is in upper-constraints
    if not version:
        raise ArtifactError(
            f"{name} at {serie}",
            f"no version: series.{serie}.services.{name} is not set",
            "pin one in release-configs/common.yml or with -e",
        )
    return ArtifactRequest(artifact, version, serie, constraints, lock)


def ensure_release_artifacts(config: Any, progress: Progress | None = None, **options: Any) -> list[Artifact]:
    """Build (or take from the cache) every artifact of :func:`plan_artifacts`, one at a time.

    Each uses its lock when release-configs/locks/ has one. ``options`` go to ensure_artifact
    (cache_dir, index_url, force...). The roots are made once, from config.image's suite and mirror.
    """
    say = progress or (lambda _line: None)
    root = options.pop("root", None) or data_root()
    lab, _ = _config_and_catalog(config, root)
    requests = plan_artifacts(config, root)
    options = _with_roots(lab, options, say)
    artifacts = []
    for index, request in enumerate(requests, 1):
        say(f"[{index}/{len(requests)}] {request.name} {request.version} for {request.series}")
        artifacts.append(
            ensure_artifact(
                request.spec,
                request.version,
                request.series,
                request.constraints,
                request.existing_lock(),
                say,
                **options,
            )
        )
    return artifacts


def lock_release(
    config: Any,
    progress: Progress | None = None,
    *,
    services: Iterable[str] | None = None,
    series: Iterable[str] | None = None,
    root: Path | None = None,
    refresh: bool = False,
    **options: Any,
) -> list[Path]:
    """``ffulab lock``: build each artifact from its series' constraints alone (ignoring any existing lock),
    then write what got installed to release-configs/locks/<series>/<name>.txt. Returns the lock paths.

    ``services``/``series`` narrow the plan (default: the lab's services over the FFU chain, plus the
    undercloud's openstackclient); ``refresh`` re-resolves even when that unlocked build is cached.
    """
    say = progress or (lambda _line: None)
    root = root or data_root()
    lab, _ = _config_and_catalog(config, root)
    chosen = list(series) if series is not None else None
    requests = [request for request in plan_artifacts(config, root, chosen, services) if request.lock]
    if not requests:
        raise ArtifactError("lock", "nothing to lock: no OpenStack service of the lab matches")
    options = _with_roots(lab, options, say)
    written = []
    for index, request in enumerate(requests, 1):
        say(f"[{index}/{len(requests)}] lock {request.name} {request.version} for {request.series}")
        artifact = ensure_artifact(
            request.spec,
            request.version,
            request.series,
            request.constraints,
            None,
            say,
            force=refresh,
            **options,
        )
        manifest = artifact.manifest
        pins = dict(line.split("==", 1) for line in manifest["freeze"])
        header = {
            "artifact": f"{request.name} {request.version} ({request.project}) at {artifact.venv_path}",
            "series": request.series,
            "constraints": request.constraints.name,
            "constraints-sha256": manifest["constraints"]["sha256"],
            "python": manifest["builder"]["python"].split()[0].removesuffix("-minimal"),
        }
        intro = [
            f"Generated by `ffulab lock` from a venv built for {request.series}: every package in it.",
            "Builds install with this file as constraints; review changes to it like code.",
            "",
        ]
        changed = write_lock(request.lock, pins, header, intro)
        relative = request.lock.relative_to(root) if request.lock.is_relative_to(root) else request.lock
        say(f"{relative}: {'written' if changed else 'unchanged'} ({len(pins)} packages)")
        written.append(request.lock)
    return written


def _with_roots(lab: LabConfig, options: dict[str, Any], say: Progress) -> dict[str, Any]:
    """Make the builder and runtime roots once, from the guest image's suite and mirror."""
    options = dict(options)
    suite, mirror = lab.image.suite, lab.image.mirror
    cache_dir = options.get("cache_dir")
    started = time.monotonic()
    if "builder" not in options:
        options["builder"] = ensure_root(builder_recipe(suite, mirror), cache_dir, say)
    if "runtime" not in options:
        options["runtime"] = ensure_root(runtime_recipe(suite, mirror), cache_dir, say)
    if time.monotonic() - started > 1:
        say(f"build roots ready in {time.monotonic() - started:.0f} s")
    options.setdefault("suite", suite)
    options.setdefault("mirror", mirror)
    return options


def mirror_index(artifacts: Iterable[Artifact]) -> dict[str, Any]:
    """What the undercloud's mirror serves, as JSON: per artifact its file ``<series>/<archive>``, sha256,
    size and the venv path it is mounted at (a squashfs image). Guests check the sha256 after download.
    """
    return {
        "artifacts": [
            {
                "name": artifact.name,
                "version": artifact.version,
                "series": artifact.series,
                "file": f"{artifact.series}/{artifact.path.name}",
                "sha256": artifact.sha256,
                "size": artifact.size,
                "venv": artifact.venv_path,
            }
            for artifact in artifacts
        ]
    }
