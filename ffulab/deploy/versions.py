"""What the nodes run: each OpenStack service's version as its venv holds it, read from the lab itself.

Every OpenStack role points ``/opt/openstack/<service>`` at the venv its units run
(``ffulab_venv_current`` in roles/common/files/ffulab-lib.sh); the version is the ``Version:`` of the
service's distribution metadata in that venv. One SSH call per node, no Python started in the guest.
Reports, the summary and ``status`` show these, never the config's pins.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ffulab.catalog import Catalog
from ffulab.config.schema import LabConfig
from ffulab.deploy.extravars import service_nodes
from ffulab.errors import FfulabError
from ffulab.provision.access import ssh_argv
from ffulab.provision.layout import Layout

CURRENT = "/opt/openstack/{service}"
LINE = re.compile(r"^ffulab-version: (?P<service>\S+) (?P<version>\S+)$", re.MULTILINE)
SSH_TIMEOUT = 120


def dist_name(project: str) -> str:
    """The ``*.dist-info`` prefix of a PyPI project (``openstack-placement`` -> ``openstack_placement``)."""
    return re.sub(r"[-_.]+", "_", project)


def version_script(services: dict[str, str]) -> str:
    """A read-only shell script printing ``ffulab-version: SERVICE VERSION`` (``none`` when not installed)."""
    lines = []
    for service, project in sorted(services.items()):
        venv = shlex.quote(CURRENT.format(service=service))
        pattern = f"{venv}/lib/python3*/site-packages/{dist_name(project)}-*.dist-info/METADATA"
        lines.append(
            f"v=$(sed -n 's/^Version: //p' {pattern} 2>/dev/null | head -n 1); "
            f'echo "ffulab-version: {service} ${{v:-none}}"'
        )
    return "\n".join(lines) + "\n"


def _read(workspace: Path, node: str, services: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        ssh_argv(workspace, node, ["sh", "-s"]),
        input=version_script(services),
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise FfulabError(f"cannot read the service versions on {node}: {result.stderr.strip()[-300:]}")
    return {match["service"]: match["version"] for match in LINE.finditer(result.stdout)}


def installed_versions(
    workspace: Path, config: LabConfig, catalog: Catalog, layout: Layout
) -> dict[str, str]:
    """Service -> the version its nodes run. Nodes that disagree (a half-done upgrade) or a service
    not installed are an error naming them: the lab is not at one release."""
    projects = {s.name: s.artifact.pypi for s in catalog.openstack(config) if s.artifact}
    where = service_nodes(config, layout)
    per_node: dict[str, dict[str, str]] = {}
    for service in projects:
        for node in where.get(service, []):
            per_node.setdefault(node, {})[service] = projects[service]
    if not per_node:
        return {}
    with ThreadPoolExecutor(max_workers=len(per_node)) as pool:
        found = dict(
            zip(per_node, pool.map(lambda n: _read(workspace, n, per_node[n]), per_node), strict=True)
        )
    versions: dict[str, str] = {}
    for service in projects:
        seen = {node: found[node].get(service, "none") for node in where.get(service, [])}
        distinct = set(seen.values())
        if "none" in distinct or len(distinct) != 1:
            shown = ", ".join(f"{node} {version}" for node, version in seen.items())
            raise FfulabError(f"{service} is not at one version on its nodes: {shown}")
        versions[service] = distinct.pop()
    return versions
