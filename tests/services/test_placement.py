"""placement: the unit runs the deployed release's venv, which holds the release's version, and the
database schema is at that release's alembic head."""

from __future__ import annotations

import pytest
from conftest import alembic_heads, alembic_versions, installed_version, unit_runs_venv

SERVICE = "placement"
UNIT = "placement-api.service"


def test_the_unit_runs_the_release_venv(host, node, lab, unit_up):
    unit_up(UNIT)
    unit_runs_venv(host, node, UNIT, lab.venv(SERVICE), SERVICE)


def test_the_venv_holds_the_release_version(host, node, lab):
    found = installed_version(host, lab.venv(SERVICE), "openstack_placement")
    assert found == lab.version(SERVICE), f"{node}: placement {found}, the lab is at {lab.version(SERVICE)}"


def test_the_database_schema_is_at_head(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the schema is shared: checked on the first placement node, where db sync runs")
    heads = alembic_heads(
        host, f"{lab.venv(SERVICE)}/lib/python3*/site-packages/placement/db/sqlalchemy/alembic/versions"
    )
    query = alembic_versions(host, "/etc/placement/placement.conf")
    assert query.rc == 0, f"the placement database does not answer: {query.stderr}"
    assert heads and set(query.stdout.split()) == heads, (
        f"the placement schema is at {sorted(query.stdout.split())}, placement {lab.version(SERVICE)}'s "
        f"heads are {sorted(heads)}"
    )
