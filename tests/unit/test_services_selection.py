"""The per-service checks a lab collects: its own services' modules, never another service's skipped."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ffulab.catalog import Catalog
from ffulab.paths import data_root
from ffulab.validate.services import WORKSPACE_ENV, services_dir


def _collected(tmp_path: Path, services: list[str]) -> set[str]:
    state = {
        "config": {"config": {"lab": {"roles": {"Controller": {"services": services}}}}},
        "layout": {
            "nodes": [
                {"name": "undercloud", "role": "undercloud"},
                {"name": "overcloud-controller-0", "role": "Controller"},
            ]
        },
        "overcloud": {"release": "2024.1", "versions": {}},
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    argv = [sys.executable, "-m", "pytest", str(services_dir()), "--collect-only", "-q"]
    argv += ["-p", "no:cacheprovider"]
    env = {WORKSPACE_ENV: str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.split("::")[0].rsplit("/", 1)[-1] for line in result.stdout.splitlines() if "::" in line}


def test_a_lab_collects_only_its_own_services_modules(tmp_path):
    modules = _collected(tmp_path, ["mariadb", "keystone"])
    assert {"test_keystone.py", "test_mariadb.py", "test_apis.py", "test_node.py"} <= modules
    assert not modules & {"test_nova.py", "test_neutron.py", "test_glance.py", "test_cinder.py"}


def test_a_lab_with_nova_collects_its_checks(tmp_path):
    modules = _collected(tmp_path, ["mariadb", "keystone", "nova"])
    assert "test_nova.py" in modules


def _node_check():
    """tests/services/test_node.py's listen check, imported as the services tier imports it."""
    spec = importlib.util.spec_from_file_location("services_test_node", services_dir() / "test_node.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.test_only_the_roles_services_listen


def test_a_port_the_kernel_holds_for_a_service_of_the_node_passes_the_listen_check_and_no_other():
    """OVS's geneve socket (udp/6081, no process) on a chassis; on a node without OVN it is a finding."""
    check = _node_check()
    catalog = Catalog.load(data_root() / "roles")
    geneve = [("udp", "0.0.0.0:6081", ""), ("udp", "[::]:6081", ""), ("tcp", "0.0.0.0:22", "sshd")]

    def lab(services):
        return SimpleNamespace(services_of=lambda node: services, catalog=catalog)

    check(geneve, lab(["chrony", "ovn_host", "nova"]), "overcloud-novacompute-0")
    with pytest.raises(AssertionError, match=r"udp 0.0.0.0:6081 \(no process\)"):
        check(geneve, lab(["chrony", "keystone"]), "overcloud-controller-0")
    with pytest.raises(AssertionError, match=r"udp 0.0.0.0:4789 \(no process\)"):
        check([("udp", "0.0.0.0:4789", "")], lab(["ovn_host"]), "overcloud-novacompute-0")
    with pytest.raises(AssertionError, match=r"udp 0.0.0.0:6081 \(nc\)"):
        check([("udp", "0.0.0.0:6081", "nc")], lab(["ovn_host"]), "overcloud-novacompute-0")
