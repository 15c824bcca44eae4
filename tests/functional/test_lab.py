"""A real lab on the sandbox virthost: provision, IPMI power from the undercloud, a second lab
beside it, and destroy leaving nothing behind. Needs root; runs TCG guests (minutes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lab_helpers import ffulab, in_sandbox, processes_here, state_of, virsh_names

from ffulab.bmc.vbmc import daemon_pids
from ffulab.virthost import Sandbox
from ffulab.virthost.sandbox import NETNS

pytestmark = pytest.mark.functional

SMALL = ["-e", "nodes.undercloud.memory=1536", "-e", "nodes.overcloud.0.memory=1536"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One 1ctlr lab up to the bmc phase; destroyed (and checked) at the end of the module."""
    workspace = tmp_path_factory.mktemp("lab") / "ws"
    others = virsh_names("domains")  # labs of someone else on this machine keep the sandbox alive
    ffulab("run", "-w", str(workspace), "-N", "nodes/1ctlr.yml", *SMALL, "-t", "virthost,image,provision,bmc")
    yield workspace
    names = [n["domain"] for n in state_of(workspace)["layout"]["nodes"]]
    ffulab("destroy", "-w", str(workspace))
    assert not set(names) & set(virsh_names("domains"))
    if others:
        return
    # the last lab gone, the sandbox it started goes too: no netns, no daemons, nothing listening
    assert NETNS not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    leftover = {name: processes_here(name) for name in ("libvirtd", "virtlogd", "vbmcd", "qemu-system-x86")}
    assert not any(leftover.values()), f"processes left: {leftover}"


def _domain_state(workspace: Path, node: str) -> str:
    status = json.loads(ffulab("status", "-w", str(workspace), "--json").stdout)
    return next(n for n in status["nodes"] if n["name"] == node)["power"]


def test_undercloud_answers_ssh_with_the_guest_kernel(lab):
    kernel = state_of(lab)["image"]["kernel_version"]
    assert ffulab("ssh", "-w", str(lab), "undercloud", "--", "uname", "-r").stdout.strip() == kernel


def test_overcloud_node_was_powered_on_by_the_undercloud_and_answers_through_it(lab):
    assert _domain_state(lab, "overcloud-controller-0") == "running"
    result = ffulab("ssh", "-w", str(lab), "overcloud-controller-0", "--", "hostname")
    assert result.stdout.strip() == "overcloud-controller-0"
    config = (lab / "ssh.config.ansible").read_text()
    assert "ProxyJump undercloud" in config


def test_ssh_config_works_as_typed_by_a_person(lab):
    result = subprocess.run(
        ["ssh", "-F", str(lab / "ssh.config.ansible"), "undercloud", "cat", "/proc/sys/kernel/hostname"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "undercloud" in result.stdout


def test_instackenv_is_private_and_on_the_undercloud(lab):
    env = json.loads((lab / "instackenv.json").read_text())
    assert oct((lab / "instackenv.json").stat().st_mode & 0o777) == "0o600"
    assert [n["name"] for n in env["nodes"]] == ["overcloud-controller-0"]
    remote = ffulab("ssh", "-w", str(lab), "undercloud", "--", "stat", "-c", "%a", "/root/instackenv.json")
    assert remote.stdout.strip() == "600"


def _undercloud_ipmi(lab: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = json.loads((lab / "instackenv.json").read_text())["nodes"][0]
    command = f"ipmitool -I lanplus -H {env['pm_addr']} -p {env['pm_port']} -U {env['pm_user']} " + " ".join(
        args
    )
    return ffulab("ssh", "-w", str(lab), "undercloud", "--", command, check=False)


def _wait_domain(lab: Path, node: str, wanted: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = _domain_state(lab, node)
        if state == wanted:
            return state
        time.sleep(1)
    return state


def test_ipmi_power_off_and_on_from_the_undercloud_changes_the_domain(lab):
    assert "Chassis Power is on" in _undercloud_ipmi(lab, "-f /root/.ipmi-password power status").stdout
    assert _undercloud_ipmi(lab, "-f /root/.ipmi-password power off").returncode == 0
    assert _wait_domain(lab, "overcloud-controller-0", "off") == "off"
    status = json.loads(ffulab("status", "-w", str(lab), "--json").stdout)
    assert status["nodes"][1]["ipmi_power"] == "off"
    assert _undercloud_ipmi(lab, "-f /root/.ipmi-password power on").returncode == 0
    assert _wait_domain(lab, "overcloud-controller-0", "running") == "running"
    ffulab("run", "-w", str(lab), "-N", "nodes/1ctlr.yml", *SMALL, "-t", "bmc")  # rerun converges, SSH back


def test_wrong_bmc_password_is_refused(lab):
    result = _undercloud_ipmi(lab, "-P", "not-the-password", "power", "status")
    assert result.returncode != 0
    assert "Unable to establish IPMI v2 / RMCP+ session" in result.stderr + result.stdout


def test_bmcs_listen_only_on_the_lab_bridge_address(lab):
    bridge = state_of(lab)["bmc"]["address"]
    config = lab / "vbmc" / "virtualbmc.conf"
    pids = [f"pid={pid}," for pid in daemon_pids(Sandbox(), str(config))]
    listeners = [line for line in in_sandbox("ss", "-lnup").splitlines() if any(p in line for p in pids)]
    assert listeners, "no vbmcd listener found"
    for line in listeners:
        local = line.split()[3]
        assert local.rsplit(":", 1)[0] == bridge, f"vbmcd listens on {local}, not only on {bridge}"


def test_a_second_lab_beside_the_first_does_not_collide(lab, tmp_path):
    second = tmp_path / "second"
    ffulab("run", "-w", str(second), "-N", "nodes/1ctlr.yml", *SMALL, "-t", "virthost,image,provision,bmc")
    try:
        first_state, second_state = state_of(lab), state_of(second)
        first_nets = {n["cidr"] for n in first_state["layout"]["networks"].values()}
        second_nets = {n["cidr"] for n in second_state["layout"]["networks"].values()}
        assert not first_nets & second_nets
        first_domains = {n["domain"] for n in first_state["layout"]["nodes"]}
        assert not first_domains & {n["domain"] for n in second_state["layout"]["nodes"]}
        for workspace in (lab, second):  # both labs' BMCs answer, each on its own bridge
            status = json.loads(ffulab("status", "-w", str(workspace), "--json").stdout)
            assert status["nodes"][1]["ipmi_power"] == "on"
        assert ffulab("ssh", "-w", str(second), "overcloud-controller-0", "--", "hostname").stdout.strip()
    finally:
        ffulab("destroy", "-w", str(second))
    assert not {n["domain"] for n in second_state["layout"]["nodes"]} & set(virsh_names("domains"))
    assert _domain_state(lab, "undercloud") == "running", "destroying one lab must leave the other alone"


def test_destroy_after_sigkill_mid_provision_leaves_nothing(tmp_path, lab):
    """Kill -9 while provisioning a third lab; destroy then removes all it recorded."""
    workspace = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "ffulab", "run", "-w", str(workspace), "-N", "nodes/1ctlr.yml", *SMALL,
         "-t", "virthost,image,provision"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = workspace / "state.json"
        if state.exists() and any(r["kind"] == "domain" for r in json.loads(state.read_text())["owned"]):
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("provision never recorded a domain")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    recorded = state_of(workspace)
    lab_id = recorded["layout"]["lab_id"]
    ffulab("destroy", "-w", str(workspace))
    assert not [name for name in virsh_names("domains") if name.startswith(lab_id)]
    assert not [name for name in virsh_names("networks") if name.startswith(lab_id)]
    assert not list((workspace / "disks").glob("*")) if (workspace / "disks").exists() else True
    links = in_sandbox("ip", "-o", "link")
    for network in recorded["layout"]["networks"].values():
        assert network["bridge"] not in links, f"bridge {network['bridge']} of the killed lab is left"
