"""glance: the unit runs the deployed release's venv, which holds the release's version; the database
schema is at that release's contract head (glance's alembic_version keeps that one row); the file
store's directories belong to glance."""

from __future__ import annotations

import pytest
from conftest import alembic_heads, alembic_versions, installed_version, unit_runs_venv

SERVICE = "glance"
UNIT = "glance-api.service"
STORE_DIRS = ("/var/lib/glance/images", "/var/lib/glance/staging", "/var/lib/glance/tasks")
"""The file store and glance's reserved staging and tasks stores (roles/glance/defaults/main.yml)."""


def test_the_unit_runs_the_release_venv(host, node, lab, unit_up):
    unit_up(UNIT)
    unit_runs_venv(host, node, UNIT, lab.venv(SERVICE), SERVICE)


def test_the_venv_holds_the_release_version(host, node, lab):
    found = installed_version(host, lab.venv(SERVICE), "glance")
    assert found == lab.version(SERVICE), f"{node}: glance {found}, the lab is at {lab.version(SERVICE)}"


def test_the_database_schema_is_at_head(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the schema is shared: checked on the first glance node, where db sync runs")
    heads = alembic_heads(
        host,
        f"{lab.venv(SERVICE)}/lib/python3*/site-packages/glance/db/sqlalchemy/alembic_migrations/versions",
    )
    query = alembic_versions(host, "/etc/glance/glance-api.conf")
    assert query.rc == 0, f"the glance database does not answer: {query.stderr}"
    assert heads and set(query.stdout.split()) == heads, (
        f"the glance schema is at {sorted(query.stdout.split())}, glance {lab.version(SERVICE)}'s "
        f"heads are {sorted(heads)}"
    )


def test_the_image_stores_belong_to_glance(host, node):
    for path in STORE_DIRS:
        store = host.file(path)
        assert store.is_directory, f"{node}: {path} is not a directory"
        assert (store.user, store.group, store.mode) == ("glance", "glance", 0o750), (
            f"{node}: {path} is {store.user}:{store.group} {oct(store.mode)}, expected glance:glance 0750"
        )
