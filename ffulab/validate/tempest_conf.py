"""``tempest.conf`` from the lab: identity v3 at the overcloud's public URL, the admin credentials,
only the lab's services available, and each service's feature flags as its deployed release has them.

What Tempest must know about a service lives with its role, in ``roles/<service>/ffulab.yml``
(``tempest:``): its ``[service_available]`` key, the tests a job runs by default, and tempest.conf
options per series ("from this series on, a later series wins"), so that adding a service is adding
a role and its files, not editing ffulab.
"""

from __future__ import annotations

import configparser
import io
from pathlib import Path
from typing import Any

from ffulab.catalog import TempestSpec
from ffulab.deploy.credentials import AdminCredentials

HTTP_TIMEOUT = 300
"""Seconds a request may take: a TCG service with one worker queues requests for tens of seconds."""

Option = str | int | bool | list[str]


def options_at(spec: TempestSpec, series: list[str], release: str) -> dict[str, dict[str, Option]]:
    """The options of ``spec`` for a lab deployed at ``release``: every series up to it, oldest first."""
    merged: dict[str, dict[str, Option]] = {}
    for name in series[: series.index(release) + 1]:
        for section, values in spec.options.get(name, {}).items():
            merged.setdefault(section, {}).update(values)
    return merged


def tempest_settings(
    credentials: AdminCredentials,
    services: dict[str, TempestSpec],
    series: list[str],
    release: str,
    work: Path,
    service_available: list[str],
) -> dict[str, dict[str, Option]]:
    """Every section and option of tempest.conf, services' options last (they win).

    ``services`` are the lab's services with their Tempest section; ``series`` every known series in
    order; ``release`` the series deployed now; ``work`` the directory of the run (log, locks);
    ``service_available`` Tempest's keys (release-configs/common.yml: tempest.service_available).
    """
    available = {spec.service_available for spec in services.values() if spec.service_available}
    settings: dict[str, dict[str, Option]] = {
        "DEFAULT": {"log_dir": str(work), "log_file": "tempest.log"},
        "oslo_concurrency": {"lock_path": str(work / "lock")},
        "identity": {
            "uri_v3": credentials.auth_url,
            "region": credentials.region,
            "v3_endpoint_type": "public",
        },
        "auth": {
            "use_dynamic_credentials": True,
            "create_isolated_networks": False,
            "admin_username": credentials.username,
            "admin_password": credentials.password,
            "admin_project_name": credentials.project,
            "admin_domain_name": credentials.domain,
        },
        "service_available": {name: name in available for name in service_available},
        "service-clients": {"http_timeout": HTTP_TIMEOUT},
    }
    for spec in services.values():
        for section, values in options_at(spec, series, release).items():
            settings.setdefault(section, {}).update(values)
    return settings


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def render(settings: dict[str, dict[str, Option]]) -> str:
    """tempest.conf text (oslo.config's ini dialect)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    for section, values in settings.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, _value(value))
    out = io.StringIO()
    out.write("# written by ffulab from the lab's state; holds the admin password (keep it 0600)\n")
    parser.write(out)
    return out.getvalue()
