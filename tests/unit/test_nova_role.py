"""roles/nova rendered as Ansible renders it, for a controller and a compute of a lab with nova: valid
bash, no secret on a command line, each FFU step doing only its part on each half of nova, the
resources program compiling and reading the workload's answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from deploy_fakes import fake_index
from test_deploy_roles import (
    ROLES,
    ROOT,
    commands_of,
    render,
    secret_on_a_command_line,
    valid_bash,
    with_defaults,
)

from ffulab.config.resolve import resolve
from ffulab.deploy.extravars import overcloud_extravars
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for

LAB = {
    "lab": {
        "name": "nova-test",
        "description": "nova's two halves (the unit tests' own lab: no network service)",
        "roles": {
            "Controller": {
                "services": [
                    "timezone", "chrony", "mariadb", "rabbitmq", "memcached", "haproxy", "keystone",
                    "placement", "glance", "nova",
                ]
            },
            "Compute": {"services": ["timezone", "chrony", "nova"]},
        },
    }
}  # fmt: skip
ACTIONS = ("deploy", "stop", "mirror", "install", "configure", "db_sync", "check")
HOSTS = ("overcloud-controller-0", "overcloud-novacompute-0")


@pytest.fixture(scope="module")
def variables(tmp_path_factory) -> dict:
    """Each host's variables for a lab of nova (and what it needs) on 1ctlr_1comp."""
    root = tmp_path_factory.mktemp("root")
    for name in ("roles", "release-configs", "nodes", "jobs", "playbooks"):
        (root / name).symlink_to(ROOT / name)
    (root / "labs").mkdir()
    (root / "labs" / "nova-test.yml").write_text(yaml.safe_dump(LAB))
    resolved = resolve(
        release="master-undercloud-2024.1-overcloud", lab="nova-test", nodes="1ctlr_1comp", root=root
    )
    workspace = tmp_path_factory.mktemp("ws")
    layout = build_layout(resolved.config, lab_id_for("nova-test", workspace), allocate_subnets([]))
    index = fake_index(resolved)
    index["images"] = [
        {
            "name": "workload", "file": "images/workload-0123456789abcdef.tar.zst", "sha256": "ab" * 32,
            "size": 10, "digest": "0123456789abcdef" * 4, "kernel_version": "6.1.0-57-cloud-amd64",
            "cmdline": "console=ttyS0 quiet panic=-1", "tcp": 80,
        }
    ]  # fmt: skip
    overcloud = overcloud_extravars(resolved.config, resolved.catalog, layout, workspace, index)
    groups = {"Controller": [HOSTS[0]], "Compute": [HOSTS[1]], "all": [n.name for n in layout.nodes]}
    hosts = {}
    for host, role in zip(HOSTS, ("Controller", "Compute"), strict=True):
        hosts[host] = {
            **overcloud, "groups": groups, "group_names": [role, "overcloud"], "inventory_hostname": host,
            "ctlplane_ip": layout.node(host).ctlplane_ip,
        }  # fmt: skip
    hosts["undercloud"] = {
        **overcloud, "groups": groups, "group_names": ["undercloud"], "inventory_hostname": "undercloud",
        "resources_passwords": {"nova": "ResourcesSeednova0123456789ab"},
        "openstackclient": {"venv": "/opt/openstack/openstackclient-8.0.0"},
    }  # fmt: skip
    return hosts


def nova_script(variables: dict, host: str, action: str, release: str = "2024.1") -> str:
    merged = {**variables[host], "ffulab_action": action, "release": release}
    return render("nova", "nova.sh.j2", with_defaults("nova", merged))


def secrets(variables: dict) -> list[str]:
    host = variables[HOSTS[0]]
    return [
        host["identity"]["admin_password"],
        *host["secrets"]["nova"].values(),
        host["secrets"]["rabbitmq"]["password"],
    ]


@pytest.mark.parametrize("release", ["2024.1", "2025.2"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("host", HOSTS)
def test_nova_scripts_are_valid_bash_and_keep_secrets_off_command_lines(variables, host, action, release):
    text = nova_script(variables, host, action, release)
    valid_bash(text)
    assert not secret_on_a_command_line(text, secrets(variables))
    assert f"/opt/openstack/nova-{'29.4.0' if release == '2024.1' else '32.2.1'}" in text


def test_the_controller_runs_the_control_plane_and_the_compute_runs_nova_compute(variables):
    control = commands_of(nova_script(variables, HOSTS[0], "deploy"))
    compute = commands_of(nova_script(variables, HOSTS[1], "deploy"))
    for needed in (
        "manage api_db sync", "manage cell_v2 map_cell0", "manage db sync", "create_cell --name cell1",
        "manage db online_data_migrations", "ffulab_wsgi_unit nova-api", "ffulab_identity_register nova",
    ):  # fmt: skip
        assert needed in control, needed
        assert needed not in compute, needed
    for needed in (
        "qemu-system-x86_64 -accel kvm", "nova-compute.service", "discover_hosts", "/etc/sudoers.d/nova",
        "ffulab-warning:",
    ):  # fmt: skip
        assert needed in compute, needed
    assert "ffulab-warning:" not in control
    assert "libvirtd.service" in control and "mask" in control, "libvirt stays off the controller"


def test_nova_conf_keeps_the_ffu_workarounds_everywhere(variables):
    for host in HOSTS:
        text = nova_script(variables, host, "configure")
        assert "disable_compute_service_check_for_ffu = true" in text
        assert re.search(r"^\[upgrade_levels\]\n(?:#.*\n)*compute = auto$", text, re.MULTILINE)
        assert f"host = {host}" in text, "the nova host is the node's name, fixed across the FFU"


@pytest.mark.parametrize("action", ACTIONS[1:])
def test_each_ffu_step_does_only_its_part_on_each_half(variables, action):
    control = commands_of(nova_script(variables, HOSTS[0], action, "2024.2"))
    compute = commands_of(nova_script(variables, HOSTS[1], action, "2024.2"))
    assert ("ffulab_units_stopped $control_units" in control) == (action == "stop")
    assert ("ffulab_units_stopped nova-compute.service" in compute) == (action == "stop")
    assert "ffulab_units_stopped $control_units" not in compute, (
        "a compute's stop leaves the control plane be"
    )
    assert ("ffulab_venv " in control) == (action == "install")
    assert ("/etc/nova/api-paste.ini" in control) == (action == "configure")
    assert ("/etc/nova/rootwrap.conf" in compute) == (action == "configure")
    assert ("manage api_db sync" in control) == (action == "db_sync")
    assert ("nova-status" in control and "ffulab_schema_at_head" in control) == (action == "check")
    for text in (control, compute):
        assert "ffulab_unit_active" not in text, "the FFU never starts nova: the final deploy does"
    assert not re.search(r"^\s*(ffulab_time \"[^\"]*\" )?manage ", compute, re.MULTILINE), (
        "the databases are the control plane's"
    )
    assert "virsh" not in compute and "qemu-system" not in compute, "the FFU never touches the hypervisor"


def test_the_upgrade_check_accepts_only_what_an_offline_ffu_explains(variables):
    text = nova_script(variables, HOSTS[0], "check", "2025.2")
    assert "systemctl is-active --quiet nova-api.service && offline=0" in text
    assert '"Placement API"' in text and '"Older than N-1 computes"' in text
    assert "upgrade-check failed" in text


def test_the_resources_program_compiles_and_reads_the_workloads_answer(variables):
    host = with_defaults("nova", {**variables["undercloud"], "ffulab_action": "create", "release": "2024.1"})
    host["ffulab_resources_spec"] = host["nova_resources_spec"]
    text = render("nova", "../common/templates/resources.sh.j2", {**host, "ffulab_script": "nova"})
    valid_bash(text)
    assert not secret_on_a_command_line(text, [*secrets(variables), "ResourcesSeed"])
    spec = json.loads(text.split("cat > \"$spec\" <<'FFULAB_EOF'\n", 1)[1].split("\nFFULAB_EOF\n", 1)[0])
    assert spec["compute_hosts"] == [HOSTS[1]], "the workload goes to the computes, the first one"
    assert spec["workload_image"]["path"].startswith("/srv/ffulab/mirror/images/")
    assert str(spec["final_release"]) == "2025.2"
    program = re.split(r"/bin/python3 - \S+ \"\$spec\" <<'FFULAB_EOF'\n", text)[1].split("\nFFULAB_EOF\n")[0]
    compile(program, "nova resources", "exec")

    namespace = {"hmac": hmac, "hashlib": hashlib, "json": json, "time": time, "__name__": "nova_resources"}
    exec(compile((ROLES / "nova" / "files" / "nova_resources.py").read_text(), "n", "exec"), namespace)
    http = Path(ROOT / "ffulab" / "image" / "workload_files" / "http.sh").read_text()
    assert "boot_id" in http
    boot = b"0d645da2-1111-2222-3333-444455556666"
    answer = b"HTTP/1.0 200 OK\r\nContent-Length: 60\r\n\r\n123.45 230.10 boot_id " + boot + b"\n"
    match = namespace["_ANSWER"].search(answer)
    assert float(match["uptime"]) == 123.45 and match["boot"] == boot
    # the lab's snapshot pauses between create (t=100) and verify (t=400) are not the workload's uptime
    assert spec["paused"] == [], "no snapshot yet: nothing paused"
    paused = [[50.0, 120.0], [200.0, 230.0], [390.0, 450.0]]
    assert namespace["paused_between"](paused, 100.0, 400.0) == 20.0 + 30.0 + 10.0


def test_tempest_leaves_out_the_tests_that_ssh_into_the_guest():
    regex = re.compile(yaml.safe_load((ROLES / "nova" / "ffulab.yml").read_text())["tempest"]["regex"])
    assert regex.match(
        "tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops[id-1]"
    )
    assert regex.match(
        "tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-x]"
    )
    for ssh in (
        "tempest.scenario.test_network_basic_ops.TestNetworkBasicOps.test_network_basic_ops[id-1]",
        "tempest.scenario.test_minimum_basic.TestMinimumBasicScenario.test_minimum_basic_scenario[id-1]",
    ):
        assert not regex.match(ssh), ssh


def test_the_tempest_image_and_flavors_are_the_resources_ones():
    meta = yaml.safe_load((ROLES / "nova" / "ffulab.yml").read_text())
    defaults = yaml.safe_load((ROLES / "nova" / "defaults" / "main.yml").read_text())["nova_resources"]
    compute = meta["tempest"]["options"]["2024.1"]["compute"]
    assert compute["image_ref"] == defaults["images"]["ami"]["id"]
    assert [compute["flavor_ref"], compute["flavor_ref_alt"]] == [f["id"] for f in defaults["flavors"]]
