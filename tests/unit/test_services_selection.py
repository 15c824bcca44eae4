"""The per-service checks a lab collects: its own services' modules, never another service's skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
