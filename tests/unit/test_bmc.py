"""BMC bookkeeping: ports, instackenv.json in TripleO's format, secrets kept out of sight."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from ffulab.bmc.instackenv import FIRST_BMC_PORT, bmc_ports, instackenv
from ffulab.bmc.vbmc import control_port
from ffulab.config.resolve import resolve
from ffulab.proc import CommandError, run
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for
from ffulab.secrets import lab_secret


@pytest.fixture
def layout(tmp_path: Path):
    config = resolve(nodes="1ctlr_1comp").config
    return build_layout(config, lab_id_for(config.lab.name, tmp_path), allocate_subnets([]))


def test_one_port_per_overcloud_node_none_for_the_undercloud(layout):
    ports = bmc_ports(layout)
    assert ports == {"overcloud-controller-0": FIRST_BMC_PORT, "overcloud-novacompute-0": FIRST_BMC_PORT + 1}


def test_instackenv_has_tripleo_fields_and_the_external_bridge_address(layout):
    env = instackenv(layout, "admin", "s3cret")
    assert [node["name"] for node in env["nodes"]] == ["overcloud-controller-0", "overcloud-novacompute-0"]
    node = env["nodes"][0]
    assert {"name", "pm_type", "pm_addr", "pm_port", "pm_user", "pm_password", "mac", "cpu", "memory", "disk",
            "arch", "capabilities"} <= set(node)  # fmt: skip
    assert node["pm_type"] == "ipmi"
    assert node["pm_addr"] == layout.networks["external"].gateway
    assert node["mac"] == [layout.node("overcloud-controller-0").nics["ctlplane"]["mac"]]
    assert node["capabilities"].startswith("profile:controller")
    assert env["nodes"][1]["capabilities"].startswith("profile:compute")
    json.dumps(env)


def test_vbmc_control_ports_differ_between_labs(tmp_path: Path):
    ports = {control_port(lab_id_for("keystone-only", tmp_path / str(i))) for i in range(20)}
    assert len(ports) >= 18


def test_lab_secret_is_stable_private_and_random(tmp_path: Path):
    first = lab_secret(tmp_path, "bmc_password")
    assert lab_secret(tmp_path, "bmc_password") == first
    assert lab_secret(tmp_path, "other") != first
    assert len(first) == 24
    assert oct(os.stat(tmp_path / "secrets.json").st_mode & 0o777) == "0o600"


def test_secrets_never_reach_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CommandError) as failure:
        run(["sh", "-c", "echo using hunter2; exit 3", "--password", "hunter2"], secrets=["hunter2"])
    assert "hunter2" not in str(failure.value)
    assert "hunter2" not in caplog.text
    assert "********" in caplog.text
