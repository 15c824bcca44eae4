"""The network lab's roles as the guests get them (neutron, ovn_central, ovn_host, and the common role's
masking of the units of services a node does not run), rendered the way Ansible renders them: valid bash,
secrets off command lines, each FFU step doing only its part, OVN wired to the lab's addresses."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from deploy_fakes import fake_index
from test_deploy_roles import commands_of, render, secret_on_a_command_line, valid_bash, with_defaults

from ffulab.config.resolve import resolve
from ffulab.deploy.extravars import overcloud_extravars, undercloud_extravars
from ffulab.paths import data_root
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for

ROLES = data_root() / "roles"
CONTROLLER, COMPUTE = "overcloud-controller-0", "overcloud-novacompute-0"
NEUTRON_ACTIONS = ("deploy", "stop", "mirror", "install", "configure", "db_sync", "check")
"""neutron.sh.j2's actions: deploy, and the FFU steps' parts (roles/neutron/defaults: neutron_ffu_actions)."""
CONF, ML2 = "/etc/neutron/neutron.conf", "/etc/neutron/plugins/ml2/ml2_conf.ini"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> dict[str, dict]:
    """Each host's variables for the ffu-network job's lab, its layout built as the provision phase does
    (the compute, running ovn_host, has a NIC on the external network)."""
    workspace = tmp_path_factory.mktemp("ws")
    resolved = resolve("ffu-network")
    config = resolved.config
    layout = build_layout(
        config,
        lab_id_for(config.lab.name, workspace),
        allocate_subnets([]),
        resolved.catalog.external_roles(config),
    )
    index = fake_index(resolved)
    overcloud = overcloud_extravars(config, resolved.catalog, layout, workspace, index)
    hostvars = {node.name: {"ctlplane_ip": node.ctlplane_ip} for node in layout.nodes}
    common = {"groups": {"all": list(hostvars)}, "hostvars": hostvars}
    node = {
        name: {
            **overcloud,
            **common,
            "inventory_hostname": name,
            "group_names": [role, "overcloud"],
            "ctlplane_ip": hostvars[name]["ctlplane_ip"],
            "ffulab_action": "deploy",
        }
        for name, role in ((CONTROLLER, "Controller"), (COMPUTE, "Compute"))
    }
    node["undercloud"] = {
        **overcloud,
        **undercloud_extravars(config, layout, index),
        **common,
        "inventory_hostname": "undercloud",
        "resources_passwords": {"neutron": "ResourcesSeedneutron0123456789ab"},
    }
    return node


def neutron_script(hosts: dict, action: str, release: str) -> str:
    host = {**hosts[CONTROLLER], "ffulab_action": action, "release": release}
    return render("neutron", "neutron.sh.j2", with_defaults("neutron", host))


def secrets_of(hosts: dict) -> list[str]:
    host = hosts[CONTROLLER]
    return [
        host["identity"]["admin_password"],
        *host["secrets"]["neutron"].values(),
        host["secrets"]["rabbitmq"]["password"],
        "ResourcesSeed",
    ]


@pytest.mark.parametrize("release", ["2024.1", "2025.2"])
@pytest.mark.parametrize("action", NEUTRON_ACTIONS)
def test_neutron_scripts_are_valid_bash_and_keep_secrets_off_command_lines(hosts, action, release):
    text = neutron_script(hosts, action, release)
    valid_bash(text)
    assert not secret_on_a_command_line(text, secrets_of(hosts))
    version = {"2024.1": "24.2.2", "2025.2": "27.0.4"}[release]
    assert f"venv=/opt/openstack/neutron-{version}" in text


@pytest.mark.parametrize("action", NEUTRON_ACTIONS[1:])
def test_neutron_ffu_parts_do_only_their_part(hosts, action):
    commands = commands_of(neutron_script(hosts, action, "2024.2"))
    assert "venv=/opt/openstack/neutron-25.2.3" in commands
    assert ('ffulab_units_stopped "${units[@]}"' in commands) == (action == "stop")
    assert ("curl --fail --silent --show-error --head" in commands) == (action == "mirror")
    assert ("ffulab_venv " in commands) == (action == "install")
    assert ("/etc/neutron/api-paste.ini" in commands) == (action == "configure")
    assert ('neutron-db-manage" --config-file' in commands) == (action == "db_sync")
    assert ("neutron-status" in commands and "EXPAND_HEAD" in commands) == (action == "check")
    assert "ffulab_unit_active" not in commands and "ffulab_identity_register" not in commands, (
        "the FFU never starts neutron nor registers it: the final deploy does"
    )
    assert "ovn-ctl" not in commands and "ovn-controller" not in commands, "neutron never touches OVN"


def test_neutron_deploy_configures_ml2_ovn_and_upgrades_before_starting(hosts):
    host = hosts[CONTROLLER]
    text = neutron_script(hosts, "deploy", "2024.1")
    conf = text[text.index('"$conf" 640 root:neutron <<') :].split("\nFFULAB_EOF\n")[0]
    ml2 = text[text.index('"$ml2" 640 root:neutron <<') :].split("\nFFULAB_EOF\n")[0]
    ctl = host["ctlplane_ip"]
    for line in ("core_plugin = ml2", "service_plugins = ovn-router", "rpc_workers = 0",
                 f"password = {host['secrets']['neutron']['service_password']}",
                 f"@{host['providers']['database']['host']}/neutron?charset=utf8",
                 f"transport_url = rabbit://ffulab:{host['secrets']['rabbitmq']['password']}@{ctl}:5672/",
                 "notify_nova_on_port_status_changes = false"):  # fmt: skip
        assert line in conf, f"neutron.conf lacks {line!r}"
    assert "[nova]" not in conf, "no nova in this lab: no nova user to notify"
    for line in ("mechanism_drivers = ovn", "tenant_network_types = geneve", "flat_networks = physnet1",
                 f"ovn_nb_connection = tcp:{ctl}:6641", f"ovn_sb_connection = tcp:{ctl}:6642",
                 "ovn_metadata_enabled = false"):  # fmt: skip
        assert line in ml2, f"ml2_conf.ini lacks {line!r}"
    commands = commands_of(text)
    for step in ("ffulab_venv ", '--config-file "$conf" --config-file "$ml2" upgrade heads',
                 'ffulab_wsgi_unit neutron-api neutron "$venv" neutron_wsgi 9696 1 ',
                 "worker_unit neutron-ovn-maintenance-worker neutron-ovn-maintenance-worker maintenance",
                 "worker_unit neutron-periodic-workers neutron-periodic-workers periodic",
                 'ffulab_unit_active "$unit"', "ffulab_identity_register neutron network ",
                 f"ffulab_answers {host['apis']['neutron']['url']} ", "FROM ovn_hash_ring",
                 f"for chassis in {COMPUTE}; do"):  # fmt: skip
        assert step in commands, f"the deploy lacks {step!r}"
    assert commands.index("upgrade heads") < commands.index('ffulab_unit_active "$unit"'), (
        "the schema is upgraded before the units start"
    )


def test_neutron_notifies_nova_when_the_lab_has_nova(hosts):
    host = {
        **hosts[CONTROLLER],
        "lab_services": [*hosts[CONTROLLER]["lab_services"], "nova"],
        "secrets": {**hosts[CONTROLLER]["secrets"], "nova": {"service_password": "NovaPassword0123"}},
    }
    text = render("neutron", "neutron.sh.j2", with_defaults("neutron", {**host, "release": "2025.2"}))
    conf = text[text.index('"$conf" 640 root:neutron <<') :].split("\nFFULAB_EOF\n")[0]
    assert "notify_nova_on_port_status_changes = true" in conf
    assert "[nova]" in conf and "username = nova" in conf and "password = NovaPassword0123" in conf


def test_the_wsgi_module_and_2024_1_workers_compile(hosts):
    text = neutron_script(hosts, "configure", "2024.1")
    wsgi = text[text.index("/usr/local/lib/ffulab/neutron_wsgi.py 644") :].split("\nFFULAB_EOF\n")[0]
    source = wsgi.split("<<'FFULAB_EOF'\n", 1)[1]
    compile(source, "neutron_wsgi.py", "exec")
    assert "from neutron.wsgi.api import application" in source
    assert source.index('metadata.version("neutron")') < source.index("from neutron"), (
        "nothing of neutron is imported before the release is known (neutron 24's neutron.wsgi unpatched)"
    )
    assert source.index("neutron.cmd.eventlet.server") < source.index("neutron_lib"), (
        "neutron 24: eventlet monkey-patches before anything else is imported"
    )
    assert "events.AFTER_INIT, _worker.start" in source, "neutron 24: the OVN driver's API worker init"
    workers = (ROLES / "neutron" / "files" / "neutron_workers.py").read_text()
    compile(workers, "neutron_workers.py", "exec")
    assert workers in text, "the script installs the module as it is in the role"


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
@pytest.mark.parametrize("console_script", [True, False])
def test_worker_units_run_the_console_script_or_the_2024_1_module(hosts, tmp_path, console_script):
    """neutron 25+ has neutron-ovn-maintenance-worker; neutron 24 runs ffulab's module instead."""
    text = neutron_script(hosts, "configure", "2024.1")
    function = re.search(r"^worker_unit\(\) \{\n.*?^\}\n", text, re.MULTILINE | re.DOTALL)
    assert function, "no worker_unit function"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    if console_script:
        (venv / "bin" / "neutron-ovn-maintenance-worker").write_text("#!/bin/sh\n")
        (venv / "bin" / "neutron-ovn-maintenance-worker").chmod(0o755)
    program = "\n".join([
        "set -eu", f"venv={venv}", f"conf={CONF}", f"ml2={ML2}",
        f'ffulab_put() {{ cat > "{tmp_path}/unit"; FFULAB_PUT_CHANGED=0; }}', function.group(0),
        "worker_unit neutron-ovn-maintenance-worker neutron-ovn-maintenance-worker maintenance",
    ])  # fmt: skip
    subprocess.run(["bash", "-c", program], check=True, timeout=30)
    start = next(
        line for line in (tmp_path / "unit").read_text().splitlines() if line.startswith("ExecStart=")
    )
    expected = (
        f"{venv}/bin/neutron-ovn-maintenance-worker"
        if console_script
        else f"{venv}/bin/python3 /usr/local/lib/ffulab/neutron_workers.py maintenance"
    )
    assert start == f"ExecStart={expected} --config-file {CONF} --config-file {ML2}"


def test_neutron_step_9_reports_the_2024_2_status_crash_as_an_upstream_bug_only(hosts):
    commands = commands_of(neutron_script(hosts, "check", "2024.2"))
    assert "Textual SQL expression 'SHOW TABLES;' should be explicitly declared" in commands
    assert 'if [ "$rc" -gt 2 ] &&' in commands, "only a crash with that message is a warning"
    assert "ffulab_upgrade_check neutron replay" in commands, "any other result goes through the usual check"


def test_ovn_central_listens_on_the_ctlplane_address_only(hosts):
    host = hosts[CONTROLLER]
    text = render("ovn_central", "ovn_central.sh.j2", with_defaults("ovn_central", host))
    valid_bash(text)
    ctl = host["ctlplane_ip"]
    assert f"--db-nb-addr={ctl} --db-nb-port=6641" in text and f"--db-sb-addr={ctl} --db-sb-port=6642" in text
    assert "0.0.0.0" not in commands_of(text)


def test_ovn_host_puts_the_external_nic_in_br_ex_and_points_at_ovn_central(hosts):
    host = hosts[COMPUTE]
    text = render("ovn_host", "ovn_host.sh.j2", with_defaults("ovn_host", host))
    valid_bash(text)
    commands = commands_of(text)
    ctl = hosts[CONTROLLER]["ctlplane_ip"]
    mac = host["node_nics"][COMPUTE]["external"]["mac"]
    assert f"mac={mac.lower()}" in commands
    assert f"remote=tcp:{ctl}:6642" in commands
    assert f"ovs_id ovn-encap-ip {host['ctlplane_ip']}" in commands
    neutron = with_defaults("neutron", hosts[CONTROLLER])
    assert f"ovs_id ovn-bridge-mappings {neutron['neutron_physnet']}:br-ex" in commands, (
        "the chassis maps the physnet of neutron's flat external network"
    )
    assert "ovs_id ovn-cms-options enable-chassis-as-gw" in commands
    assert "MACAddress=$mac" in commands and "DHCP=no" in commands
    assert "find Chassis" not in commands, (
        "OVN central may come later: neutron's deploy waits for the chassis"
    )
    assert not re.search(r"systemctl (stop|restart) .*ovn-controller", commands), (
        "ovn-controller's graceful stop deletes the chassis: never stopped"
    )


def test_common_masks_the_units_of_the_services_a_node_does_not_run(hosts):
    scripts = {
        name: commands_of(render("common", "common.sh.j2", with_defaults("common", hosts[name])))
        for name in (CONTROLLER, COMPUTE)
    }
    for text in scripts.values():
        valid_bash(text + "\nffulab_done")

    def masked(text: str) -> set[str]:
        calls = re.findall(r'^ffulab_units_masked "[^"]*" (.+)$', text, re.MULTILINE)
        return {unit for call in calls for unit in call.split()}

    assert masked(scripts[COMPUTE]) >= {
        "mariadb.service", "rabbitmq-server.service", "epmd.socket", "memcached.service", "haproxy.service",
        "ovn-central.service",
    }  # fmt: skip
    assert not masked(scripts[COMPUTE]) & {
        "ovn-host.service",
        "ovn-controller.service",
        "openvswitch-switch.service",
    }
    assert masked(scripts[CONTROLLER]) == {
        "ovn-host.service", "ovn-controller.service", "openvswitch-switch.service", "ovs-vswitchd.service",
        "ovsdb-server.service", "ovs-record-hostname.service",
    }  # fmt: skip


def test_service_units_come_from_the_catalog(hosts):
    units = hosts[CONTROLLER]["service_units"]
    assert set(units) == set(hosts[CONTROLLER]["lab_services"])
    assert units["ovn_central"] == resolve("ffu-network").catalog["ovn_central"].units
    assert units["keystone"] == [], "a role that makes its own units declares none"


def test_neutron_resources_script_is_valid_and_its_program_compiles(hosts):
    host = {**hosts["undercloud"], "ffulab_script": "neutron", "ffulab_action": "create"}
    variables = with_defaults("neutron", host)
    variables["ffulab_resources_spec"] = variables["neutron_resources_spec"]
    text = render("neutron", "../common/templates/resources.sh.j2", variables)
    valid_bash(text)
    assert not secret_on_a_command_line(text, secrets_of(hosts))
    spec, program = text.split("<<'FFULAB_EOF'\n")[1:3]
    spec = json.loads(spec.split("\nFFULAB_EOF\n")[0])
    external = hosts[CONTROLLER]["lab_networks"]["external"]
    assert spec["gateway_nodes"] == [COMPUTE], "the router's gateway is bound on an ovn_host node"
    assert spec["resources"]["external"]["pool"] == [external["floating_start"], external["floating_end"]]
    assert spec["resources"]["external"]["gateway"] == external["gateway"]
    compile(program.split("\nFFULAB_EOF\n")[0], "neutron resources", "exec")
    assert "ffulab-dataplane: " in program


def test_common_makes_the_nodes_name_its_static_hostname_without_dbus(hosts):
    text = commands_of(render("common", "common.sh.j2", with_defaults("common", hosts[COMPUTE])))
    assert f"ffulab_put /etc/hostname 644 root:root <<< {COMPUTE}" in text, "static: no DHCP lease renames it"
    assert "/proc/sys/kernel/hostname" in text and "hostnamectl" not in text, "nodes may have no D-Bus"
