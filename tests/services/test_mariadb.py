"""MariaDB: running, listening on the node's ctlplane address only, and holding every database the
lab's services declare (roles/<svc>/ffulab.yml: databases) on the node that serves them."""

from __future__ import annotations

import pytest

SERVICE = "mariadb"
UNIT = "mariadb.service"
PORT = 3306


def test_mariadb_runs(host, node, unit_up):
    unit_up(UNIT)
    assert host.run("mariadb -N -B -e 'SELECT 1'").stdout.strip() == "1", f"MariaDB on {node} does not answer"


def test_mariadb_listens_on_the_ctlplane_address_only(listening, lab, node):
    sockets = {
        (proto, address, names) for proto, address, names in listening if "mariadbd" in names.split(",")
    }
    wanted = {("tcp", f"{lab.ctlplane_ip(node)}:{PORT}", "mariadbd")}
    assert sockets == wanted, (
        f"MariaDB on {node} listens on {sorted(sockets)}, expected {sorted(wanted)} "
        "(a socket held by systemd is mariadb.socket's: it ignores bind-address)"
    )


def test_every_service_database_exists(host, node, lab):
    if node != lab.first_node_running(SERVICE):
        pytest.skip("the service databases live on the first MariaDB node")
    databases = set(host.check_output("mariadb -N -B -e 'SHOW DATABASES'").split())
    services = {name for role in lab.config["lab"]["roles"].values() for name in role["services"]}
    wanted = {db for name in services for db in lab.catalog[name].databases}
    assert wanted, "the lab's services declare no database: nothing to check"
    missing = sorted(wanted - databases)
    assert not missing, f"no database for {', '.join(missing)} on {node} (has {sorted(databases)})"
