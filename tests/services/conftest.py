"""Per-service checks against a live lab: ``FFULAB_WORKSPACE=WS pytest tests/services``.

``ffulab validate`` runs them (with pytest-xdist, JUnit). The lab's state says which overcloud node
runs which service and at which release (the FFU moves ``state["overcloud"]`` to N+3). Each module
``test_<service>.py`` sets ``SERVICE``; its tests that take a ``host`` run once per node running that
service, through the workspace's ssh config (pytest-testinfra's ssh backend, ControlMaster reused).
The lab's APIs are called from the virthost's netns, never from the host's own namespace.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testinfra

from ffulab.catalog import Catalog
from ffulab.deploy.credentials import ADMIN_PASSWORD_SECRET
from ffulab.paths import data_root
from ffulab.provision.access import SSH_CONFIG
from ffulab.secrets import lab_secret
from ffulab.validate.netns_http import Response, request
from ffulab.validate.services import WORKSPACE_ENV


@dataclass(frozen=True)
class Lab:
    """What the checks expect, from the lab's state."""

    workspace: Path
    state: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        return self.state["config"]["config"]

    @property
    def overcloud(self) -> dict[str, Any]:
        return self.state["overcloud"]

    @property
    def release(self) -> str:
        return self.overcloud["release"]

    def version(self, service: str) -> str:
        return self.overcloud["versions"][service]

    @property
    def netns(self) -> str | None:
        return (self.state.get("virthost") or {}).get("netns")

    def nodes(self) -> list[dict[str, Any]]:
        return [node for node in self.state["layout"]["nodes"] if node["role"] != "undercloud"]

    def node(self, name: str) -> dict[str, Any]:
        return next(node for node in self.state["layout"]["nodes"] if node["name"] == name)

    def ctlplane_ip(self, name: str) -> str:
        return self.node(name)["nics"]["ctlplane"]["ip"]

    def services_of(self, name: str) -> list[str]:
        return self.config["lab"]["roles"][self.node(name)["role"]]["services"]

    def config_services(self) -> list[str]:
        """Every service of the lab, in role order, each once."""
        return list(
            dict.fromkeys(s for role in self.config["lab"]["roles"].values() for s in role["services"])
        )

    def nodes_running(self, service: str) -> list[str]:
        """Overcloud nodes whose role runs ``service``, in layout order."""
        return [node["name"] for node in self.nodes() if service in self.services_of(node["name"])]

    def first_node_running(self, service: str) -> str:
        """Where a shared service lives (the database, keystone's db_sync and bootstrap)."""
        return self.nodes_running(service)[0]

    @property
    def catalog(self) -> Catalog:
        return Catalog.load(data_root() / "roles")

    @property
    def apis(self) -> dict[str, str]:
        """Service -> its public URL (through haproxy), as the overcloud phase recorded it."""
        return self.overcloud["apis"]

    def venv(self, service: str) -> str:
        """The venv of ``service`` at the version the lab runs, as the undercloud's mirror index names it
        (a series may have two: N deployed at an older point release, before the minor update)."""
        index = self.state["undercloud"]["mirror"]["index"]["artifacts"]
        version = self.version(service)
        return next(
            entry["venv"]
            for entry in index
            if entry["series"] == self.release and entry["name"] == service and entry["version"] == version
        )


def _lab() -> Lab:
    workspace = os.environ.get(WORKSPACE_ENV)
    if not workspace:
        pytest.skip(f"no lab to check: set {WORKSPACE_ENV}=<workspace> (ffulab validate does)")
    path = Path(workspace).resolve()
    return Lab(path, json.loads((path / "state.json").read_text()))


@pytest.fixture(scope="session")
def lab() -> Lab:
    return _lab()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A module whose SERVICE the lab does not have is deselected: its checks did not run, and the
    count says so (a keystone-only lab reports its own checks, not other services' skipped)."""
    if not os.environ.get(WORKSPACE_ENV):
        return
    services = set(_lab().config_services())
    kept, dropped = [], []
    for item in items:
        service = getattr(item.module, "SERVICE", None) if isinstance(item, pytest.Function) else None
        (dropped if service is not None and service not in services else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``node``: each node running the module's SERVICE (every overcloud node when it is None); no
    node: the module's tests are skipped."""
    if "node" in metafunc.fixturenames:
        service = metafunc.module.SERVICE
        lab = _lab() if os.environ.get(WORKSPACE_ENV) else None
        if lab is None:
            nodes = []
        elif service is None:
            nodes = [node["name"] for node in lab.nodes()]
        else:
            nodes = lab.nodes_running(service)
        metafunc.parametrize("node", nodes, scope="module")


CONNECT_TIMEOUT = 30
"""Seconds testinfra's ssh waits for a node to connect and greet."""


@pytest.fixture(scope="module")
def host(lab: Lab, node: str) -> testinfra.host.Host:
    """The node through the workspace's ssh config (undercloud as jump host). testinfra's default 10 s
    connect timeout also bounds the banner: a loaded TCG guest behind the undercloud missed it (two labs
    on the machine; the handshake takes ~1 s on an idle one)."""
    config = str(lab.workspace / SSH_CONFIG)
    return testinfra.get_host(f"ssh://{node}", ssh_config=config, timeout=CONNECT_TIMEOUT)


@pytest.fixture(scope="module")
def unit_up(host: testinfra.host.Host, node: str) -> Callable[[str], None]:
    """``unit_up(UNIT)`` asserts the systemd unit is running and enabled: every service's first check."""

    def check(unit: str) -> None:
        service = host.service(unit)
        assert service.is_running, f"{unit} is not running on {node}"
        assert service.is_enabled, f"{unit} is not enabled on {node}"

    return check


@dataclass(frozen=True)
class Identity:
    """The overcloud's identity API with an admin token, called from the virthost's netns."""

    lab: Lab
    token: str

    def get(self, path: str) -> Response:
        url = self.lab.overcloud["identity_url"].rstrip("/") + path
        return request(self.lab.netns, "GET", url, headers={"X-Auth-Token": self.token})


@pytest.fixture(scope="session")
def identity(lab: Lab) -> Identity:
    password = lab_secret(lab.workspace, ADMIN_PASSWORD_SECRET)
    scope = {"project": {"name": "admin", "domain": {"name": "Default"}}}
    user = {"name": "admin", "domain": {"name": "Default"}, "password": password}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}}
    url = lab.overcloud["identity_url"].rstrip("/") + "/auth/tokens"
    answer = request(lab.netns, "POST", url, body=body)
    assert answer.status == 201, f"no admin token from {url}: HTTP {answer.status} {answer.body}"
    return Identity(lab, answer.headers["x-subject-token"])


def alembic_versions(host: testinfra.host.Host, conf: str, table: str = "alembic_version") -> Any:
    """``SELECT version_num FROM <table>`` in the database named by ``connection =`` of ``conf`` on the
    node. The node reads the password from the file itself: it is never on a command line, so never
    in ``ps`` nor in a failing check's report."""
    script = (
        f"url=$(sed -n 's/^connection *= *//p' {conf} | head -n 1); "
        "rest=${url#*://}; credentials=${rest%@*}; where=${rest##*@}; "
        "user=${credentials%%:*}; export MYSQL_PWD=${credentials#*:}; "
        "server=${where%%/*}; database=${where#*/}; database=${database%%\\?*}; "
        'mariadb --protocol=tcp -h "$server" -u "$user" -D "$database" -N -B '
        f'-e "SELECT version_num FROM {table} ORDER BY 1"'
    )
    return host.run(script)


def alembic_heads(host: testinfra.host.Host, versions: str) -> set[str]:
    """The heads of the migration files in ``versions`` on the node (a glob is fine): the revisions no
    other file revises or depends on, read with sed, as roles/common/files/ffulab-lib.sh does."""
    script = (
        f"d=$(echo {versions}); "
        'comm -23 <(sed -n "s/^revision = [\\x27\\"]\\(.*\\)[\\x27\\"]$/\\1/p" $d/*.py | sort -u) '
        '<(sed -n "s/^down_revision = [\\x27\\"]\\(.*\\)[\\x27\\"]$/\\1/p; '
        's/^depends_on = [\\x27\\"]\\(.*\\)[\\x27\\"]$/\\1/p" $d/*.py | sort -u)'
    )
    return set(host.check_output(f"bash -c {shlex.quote(script)}").split())


def installed_version(host: testinfra.host.Host, venv: str, dist: str) -> str:
    """The Version of distribution ``dist`` in ``venv`` on the node (no Python started there)."""
    return host.check_output(
        f"sed -n 's/^Version: //p' {venv}/lib/python3*/site-packages/{dist}-*.dist-info/METADATA"
    )


def unit_runs_venv(host: testinfra.host.Host, node: str, unit: str, venv: str, user: str) -> None:
    """``unit`` starts the venv's gunicorn (or console script) and every process of ``user`` runs from it."""
    assert venv in host.check_output(f"systemctl show -p ExecStart {unit}"), (
        f"{unit} on {node} does not start {venv}"
    )
    running = [
        process.args for process in host.process.filter(user=user) if venv.rsplit("/", 1)[0] in process.args
    ]
    assert running, f"no process of {user} on {node}"
    assert all(args.startswith(f"{venv}/bin/") for args in running), (
        f"{user}'s processes on {node} are not all from {venv}: {running}"
    )


@pytest.fixture(scope="module")
def listening(host: testinfra.host.Host) -> list[tuple[str, str, str]]:
    """Every listening TCP socket and bound UDP socket of the node: (proto, address:port, processes)."""
    found = []
    for line in host.check_output("ss -Hlntup").splitlines():
        fields = line.split()
        # a name may hold spaces: setproctitle (neutron's) makes gunicorn's "gunicorn: master [...]",
        # cut to the kernel's 15 characters; such a title names the program before its colon
        names = {name.split(":")[0] for name in re.findall(r'\("([^"]+)",pid=', line)}
        found.append((fields[0], fields[4], ",".join(sorted(names))))
    return found
