"""Cross-layer checks the schema cannot express: series, chains, roles, services, names."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

from ffulab.config.merge import Path_, format_path
from ffulab.config.schema import LabConfig

if TYPE_CHECKING:
    from ffulab.catalog import Catalog
from ffulab.errors import ConfigError

Origin = Callable[[Path_], str]


def did_you_mean(word: str, choices: list[str]) -> str:
    """A hint listing the closest choice, or all of them when nothing is close."""
    close = get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"expected one of: {', '.join(choices)}" if choices else "none are defined"


def _fail(origin: Origin, path: Path_, problem: str, hint: str | None = None) -> None:
    raise ConfigError(origin(path), format_path(path), problem, hint)


def check_release(config: LabConfig, origin: Origin, constraints_dir: Path) -> None:
    """Series exist, the chain is N first and N+3 last and consecutive, pins are present."""
    known = list(config.series)
    release = config.release
    for key in ("undercloud", "overcloud"):
        value = getattr(release, key)
        if value not in config.series:
            _fail(origin, ("release", key), f"unknown series '{value}'", did_you_mean(value, known))
    for index, series in enumerate(release.ffu_chain):
        if series not in config.series:
            _fail(
                origin,
                ("release", "ffu_chain", index),
                f"unknown series '{series}'",
                did_you_mean(series, known),
            )
    chain = release.ffu_chain
    if chain[0] != release.overcloud:
        _fail(
            origin,
            ("release", "ffu_chain", 0),
            f"the chain starts at '{chain[0]}' but the overcloud release is '{release.overcloud}'",
            "the first series of ffu_chain is N, the overcloud release",
        )
    if release.path == "slurp":
        _check_slurp(config, origin)
    else:
        _check_ffu(config, origin)
    for name in {release.undercloud, *chain}:
        path = constraints_dir / config.series[name].constraints
        if not path.is_file():
            _fail(
                origin,
                ("series", name, "constraints"),
                f"constraints file '{config.series[name].constraints}' not found in {constraints_dir}",
            )


def _check_ffu(config: LabConfig, origin: Origin) -> None:
    """A fast-forward walk: N to N+3 through every series."""
    known, chain = list(config.series), config.release.ffu_chain
    for index in range(1, len(chain)):
        expected = known.index(chain[index - 1]) + 1
        if expected >= len(known) or known[expected] != chain[index]:
            want = known[expected] if expected < len(known) else "nothing (no later series is defined)"
            _fail(
                origin,
                ("release", "ffu_chain", index),
                f"the chain is not consecutive: after '{chain[index - 1]}' comes {want!r}, "
                f"not '{chain[index]}'",
                "list every series from N to N+3 in order (or path: slurp for a skip-level hop)",
            )
    if len(chain) != 4:
        _fail(
            origin,
            ("release", "ffu_chain"),
            f"a fast-forward upgrade goes N -> N+3 (4 series), this chain has {len(chain)}: {chain}",
        )


def _check_slurp(config: LabConfig, origin: Origin) -> None:
    """A skip-level hop: one SLURP release to the next SLURP release, nothing else."""
    slurps = [name for name, series in config.series.items() if series.slurp]
    pairs = [f"[{a}, {b}]" for a, b in itertools.pairwise(slurps)]
    chain = config.release.ffu_chain
    allowed = f"SLURP -> next SLURP: {', '.join(pairs)}"
    if len(chain) != 2:
        _fail(origin, ("release", "ffu_chain"), f"a SLURP upgrade is one hop N -> N+2, not {chain}", allowed)
    if f"[{chain[0]}, {chain[1]}]" not in pairs:
        _fail(
            origin,
            ("release", "ffu_chain"),
            f"{chain[0]} -> {chain[1]} is not a SLURP upgrade (path: slurp)",
            allowed,
        )


def check_lab(config: LabConfig, origin: Origin, catalog: Catalog) -> None:
    """Services exist as roles, what each needs is provided by another service of the lab, and every
    OpenStack service has a version at every series of the chain."""
    for role_name, role in config.lab.roles.items():
        for index, service in enumerate(role.services):
            if service not in catalog:
                _fail(
                    origin,
                    ("lab", "roles", role_name, "services", index),
                    f"unknown service '{service}' (no roles/{service}/ffulab.yml)",
                    did_you_mean(service, sorted(catalog)),
                )
    for service, need in catalog.missing_providers(config):
        providers = sorted(name for name, entry in catalog.items() if need in entry.provides)
        _fail(
            origin,
            ("lab", "roles"),
            f"service {service} needs a {need} service, and no role of lab '{config.lab.name}' runs one",
            f"add {' or '.join(providers) or 'a service providing it'} to a role",
        )
    for service in catalog.of_lab(config):
        for name in service.tempest.options:
            if name not in config.series:
                raise ConfigError(
                    f"roles/{service.name}/ffulab.yml",
                    f"tempest.options.{name}",
                    "unknown series",
                    f"series are {', '.join(config.series)}",
                )
    openstack = {service.name for service in catalog.openstack(config)}
    n = config.release.overcloud
    for name, version in config.release.update_from.items():
        if name not in openstack:
            _fail(
                origin,
                ("release", "update_from", name),
                f"'{name}' is not an OpenStack service of lab '{config.lab.name}'",
                did_you_mean(name, sorted(openstack)),
            )
        if version == config.series[n].services.get(name):
            _fail(
                origin,
                ("release", "update_from", name),
                f"{version} is already {n}'s version of {name}: nothing to update",
                f"give an older point release of {n}",
            )
    services = {service for role in config.lab.roles.values() for service in role.services}
    for series in config.release.ffu_chain:
        pins = config.series[series].services
        for service in sorted(services):
            if catalog[service].kind == "openstack" and not pins.get(service):
                _fail(
                    origin,
                    ("series", series, "services", service),
                    f"no version of {service} for series {series}",
                    f"add series.{series}.services.{service}: <version> to the release config",
                )


def check_nodes(config: LabConfig, origin: Origin) -> None:
    """Node roles exist in the lab and node names are unique (the undercloud included)."""
    seen = {"undercloud": ("nodes", "undercloud")}
    for index, group in enumerate(config.nodes.overcloud):
        if group.role not in config.lab.roles:
            _fail(
                origin,
                ("nodes", "overcloud", index, "role"),
                f"role '{group.role}' is not defined by lab '{config.lab.name}'",
                did_you_mean(group.role, sorted(config.lab.roles)),
            )
        for name in group.node_names():
            if name in seen:
                _fail(origin, ("nodes", "overcloud", index, "name"), f"duplicate node name '{name}'")
            seen[name] = ("nodes", "overcloud", index, "name")


def check_tempest(config: LabConfig, origin: Origin, constraints_dir: Path) -> None:
    """A job that runs Tempest has a pin, and the series of its constraints exists with its file."""
    tempest = config.tempest
    if tempest is None:
        if config.job and "tempest" in config.job.validations:
            _fail(
                origin,
                ("tempest",),
                f"job '{config.job.name}' validates with Tempest but no Tempest is pinned",
                "add tempest: {version: ..., constraints: <series>} (see release-configs/common.yml)",
            )
        return
    if tempest.constraints not in config.series:
        _fail(
            origin,
            ("tempest", "constraints"),
            f"unknown series '{tempest.constraints}'",
            did_you_mean(tempest.constraints, list(config.series)),
        )
    if not (constraints_dir / config.series[tempest.constraints].constraints).is_file():
        _fail(
            origin,
            ("series", tempest.constraints, "constraints"),
            f"constraints file '{config.series[tempest.constraints].constraints}' not found in "
            f"{constraints_dir} (Tempest's libraries are pinned by it)",
        )


def check_all(config: LabConfig, origin: Origin, catalog: Catalog, constraints_dir: Path) -> None:
    check_release(config, origin, constraints_dir)
    check_lab(config, origin, catalog)
    check_nodes(config, origin)
    check_tempest(config, origin, constraints_dir)
