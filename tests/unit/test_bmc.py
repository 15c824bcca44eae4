"""BMC bookkeeping: ports, instackenv.json in TripleO's format, secrets kept out of sight."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from ffulab.bmc import vbmc
from ffulab.bmc.instackenv import FIRST_BMC_PORT, bmc_ports, instackenv
from ffulab.bmc.ipmi import ipmi
from ffulab.bmc.vbmc import control_port
from ffulab.config.resolve import resolve
from ffulab.proc import CommandError, run
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for
from ffulab.secrets import lab_secret
from ffulab.virthost import Local


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


class HereVirthost(Local):
    """The virthost is this machine; records what ran there."""

    def __init__(self, tools: dict[str, str] | None = None):
        self.ran: list[list[str]] = []
        self.tools = tools or {}

    def on_host(self, argv):
        self.ran.append(list(argv))
        return list(argv)

    def wrap(self, argv):
        return self.on_host(argv)

    def tool(self, name):
        return self.tools.get(name, name)


def test_the_vbmc_config_lives_in_the_labs_directory_on_the_virthost(tmp_path: Path):
    home = str(tmp_path / "lab")
    path = vbmc.write_config(HereVirthost(), home, "lab-abc")
    assert path == f"{home}/vbmc/virtualbmc.conf"
    text = Path(path).read_text()
    assert f"config_dir = {home}/vbmc/bmcs" in text and f"logfile = {home}/logs/vbmcd.log" in text
    assert f"server_port = {control_port('lab-abc')}" in text
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
    assert oct(Path(home, "vbmc").stat().st_mode & 0o777) == "0o700"


@pytest.fixture
def fake_vbmcd(tmp_path: Path):
    """A process that looks like the lab's vbmcd (its name, its VIRTUALBMC_CONFIG), and a bystander
    with the same environment that is not one."""
    config = str(tmp_path / "vbmc" / "virtualbmc.conf")
    env = {**os.environ, "VIRTUALBMC_CONFIG": config}
    daemon = subprocess.Popen(["bash", "-c", "exec -a vbmcd sleep 300"], env=env)
    bystander = subprocess.Popen(["sleep", "300"], env=env)
    yield config, daemon, bystander
    for process in (daemon, bystander):
        process.kill()
        process.wait()


def test_the_lab_vbmcd_is_found_by_its_config_and_stopped(fake_vbmcd):
    config, daemon, bystander = fake_vbmcd
    virthost = HereVirthost()
    deadline = time.monotonic() + 5
    while vbmc.daemon_pids(virthost, config) != [daemon.pid] and time.monotonic() < deadline:
        time.sleep(0.05)  # bash is still exec'ing
    assert vbmc.daemon_pids(virthost, config) == [daemon.pid]
    assert vbmc.daemon_pids(virthost, config + ".other") == []
    assert vbmc.stop_daemon(virthost, config) is True
    assert daemon.wait(timeout=5) is not None
    assert bystander.poll() is None, "a process that is not vbmcd was stopped"
    assert vbmc.stop_daemon(virthost, config) is False


def test_vbmc_arguments_and_the_password_go_on_stdin(tmp_path: Path):
    virthost = HereVirthost(tools={"vbmc": "echo"})
    config = "/lab/vbmc/virtualbmc.conf"
    result = vbmc.vbmc(virthost, config, ["add", "--password=s3cret"], secrets=["s3cret"])
    assert result.stdout.strip() == "add --password=s3cret"
    assert all("s3cret" not in " ".join(argv) for argv in virthost.ran), virthost.ran


def test_ipmi_from_the_virthost_reads_the_password_from_stdin(tmp_path: Path):
    class Recording(HereVirthost):
        def wrap(self, argv):  # ipmitool -> a stand-in that prints the environment it was given
            self.ran.append(list(argv))
            return [*argv[:4], "sh", "-c", 'echo "$IPMI_PASSWORD"']

    virthost = Recording()
    bmc = {"address": "192.168.100.1", "user": "admin"}
    result = ipmi(virthost, tmp_path, bmc, 6230, "power", "status", password="pa ss")
    assert result.stdout.strip() == "pa ss"
    assert "-E" in virthost.ran[0] and all("pa ss" not in arg for arg in virthost.ran[0])
