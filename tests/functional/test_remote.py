"""A lab on an ``ssh://`` virthost: the remote host is a second network namespace with sshd, libvirtd
and virtlogd of its own (``remote_host.py``), reached only through ssh, as a lab server is.

The ``minimal`` job (base services only) is provisioned there through the bmc phase; then IPMI power
through the remote's vbmcd, ``status``, ``ssh``, snapshots, the mirror's HTTP server and the downtime
poller on the remote; ``destroy`` must leave no domain, network, daemon or file of ffulab's there.
Needs root; runs TCG guests (minutes).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest
from lab_helpers import ffulab, state_of, virsh_names
from remote_host import HOST, NETNS, SPEC, RemoteHost

from ffulab.bmc.vbmc import daemon_pids
from ffulab.deploy.mirror import serve_from_virthost, sync_mirror
from ffulab.ffu.downtime import Poller
from ffulab.provision.layout import Layout
from ffulab.virthost import Remote
from ffulab.virthost.remote import REMOTE_ROOT

pytestmark = pytest.mark.functional

PHASES = "virthost,image,provision,bmc"
MACHINE = {"sshd", "ffr-libvirtd", "ffr-virtlogd"}
"""The remote host's own processes: whatever else runs in its netns was started for a lab."""
MIRROR_TEST_DIR = "/tmp/ffulab-remote-mirror-test"


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    host = RemoteHost(tmp_path_factory.mktemp("remote-host"))
    started = time.monotonic()
    try:
        host.start()
        print(f"remote host up in {time.monotonic() - started:.1f} s")
        yield host
    finally:
        host.stop()
        Remote(f"root@{HOST}").probe_cache.unlink(missing_ok=True)  # the client's note of its virt type
    assert NETNS not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert host.pids() == []


def _left_on(remote: RemoteHost, seconds: float = 10) -> dict[int, str]:
    """The remote's processes that are not the machine's own, once the ones on their way out are gone:
    the ``socat`` of an ssh that just ended (the check's own, or libvirt's qemu+ssh of the ffulab
    process that just exited) lives on for its half-second linger after its ssh closed."""
    deadline = time.monotonic() + seconds
    while True:
        left = {pid: name for pid, name in _remote_processes(remote).items() if name not in MACHINE}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def _ancestry(pids: dict[int, str]) -> str:
    """Each leftover with its parents' command lines up to init: who started it and is still there."""
    lines = []
    for pid in pids:
        chain, current = [], pid
        while current > 1 and len(chain) < 8:
            try:
                argv = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                parent = int(Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                break
            chain.append(f"{current} {argv[:160]}")
            current = parent
        lines.append(" <- ".join(chain))
    return "; ".join(lines)


def _remote_processes(remote: RemoteHost) -> dict[int, str]:
    names = {}
    for pid in remote.pids():
        try:
            names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
    return names


@pytest.fixture(scope="module")
def lab(remote, tmp_path_factory):
    """The minimal job's lab on the ssh virthost up to the bmc phase; destroyed and checked at the end."""
    workspace = tmp_path_factory.mktemp("remote-lab") / "ws"
    started = time.monotonic()
    try:
        ffulab("run", "-j", "ffu-minimal", "-w", str(workspace), "--virthost", SPEC, "-t", PHASES,
               env=remote.env())  # fmt: skip
        print(f"ffulab run -t {PHASES} on {SPEC}: {time.monotonic() - started:.1f} s")
        yield workspace
    finally:
        if (workspace / "state.json").exists():
            names = {n["domain"] for n in (state_of(workspace).get("layout") or {}).get("nodes", [])}
            started = time.monotonic()
            ffulab("destroy", "-w", str(workspace), env=remote.env())
            print(f"ffulab destroy: {time.monotonic() - started:.1f} s")
            assert not names & set(virsh_names("domains")), "a domain of the lab is on this machine"
    # nothing of ffulab's is left on the remote: no domain, network, daemon or file
    listed = remote.ssh("virsh list --all --name; echo ---; virsh net-list --all --name").stdout
    domains, _, networks = listed.partition("---")
    assert domains.split() == [] and networks.split() == [], listed
    left = _left_on(remote)
    assert left == {}, f"processes left on the remote: {_ancestry(left)}"
    files = remote.ssh(f"ls -d {REMOTE_ROOT} /tmp/ffulab-mirror-* 2>/dev/null; true").stdout.split()
    assert files == [], f"files left on the remote: {files}"


def test_check_reports_the_remote_ready(remote):
    result = ffulab("virthost", "check", "--virthost", SPEC, "--json", env=remote.env(), check=False)
    report = json.loads(result.stdout)
    assert report["kind"] == "ssh" and report["uri"] == f"qemu+ssh://root@{HOST}/system"
    assert report["libvirt_version"] and report["virt_type"] in ("qemu", "kvm")
    # its directory comes with the first lab (prepare makes it); everything else is there
    assert [gap["what"] for gap in report["missing"] if REMOTE_ROOT not in gap["what"]] == [], report


def test_the_lab_lives_on_the_remote_only(lab, remote):
    state = state_of(lab)
    assert state["virthost"]["spec"] == SPEC
    domains = {node["domain"] for node in state["layout"]["nodes"]}
    assert not domains & set(virsh_names("domains")), "the lab's domains are in this machine's libvirt"
    there = remote.ssh("virsh list --name").stdout.split()
    assert domains <= set(there), there
    lab_dir = f"{REMOTE_ROOT}/labs/{state['layout']['lab_id']}"
    disks = remote.ssh(f"ls {lab_dir}/disks").stdout.split()
    assert sorted(disks) == ["overcloud-controller-0.qcow2", "undercloud.qcow2"]
    assert state["image"]["disk"].startswith(f"{REMOTE_ROOT}/images/")
    assert not (lab / "disks").exists(), "disks were made on the client"
    links = remote.ssh("ip -o link").stdout
    assert all(net["bridge"] in links for net in state["layout"]["networks"].values())
    here = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert not any(net["bridge"] in here for net in state["layout"]["networks"].values())


def test_vbmcd_runs_on_the_remote_bound_to_the_lab_bridge(lab, remote, monkeypatch):
    monkeypatch.setenv("PATH", remote.env()["PATH"])  # this process's ssh calls go to the remote too
    state = state_of(lab)
    config = f"{REMOTE_ROOT}/labs/{state['layout']['lab_id']}/vbmc/virtualbmc.conf"
    pids = _vbmcd_pids(remote, config)
    assert pids and set(pids) <= set(remote.pids()), "vbmcd does not run in the remote's netns"
    assert sorted(daemon_pids(Remote(f"root@{HOST}"), config)) == sorted(pids)  # found as destroy finds it
    listeners = [
        line for line in remote.ssh("ss -lnupH").stdout.splitlines() if any(f"pid={p}," in line for p in pids)
    ]
    assert listeners, "no vbmcd listener found on the remote"
    for line in listeners:
        assert line.split()[3].rsplit(":", 1)[0] == state["bmc"]["address"], line


def _vbmcd_pids(remote: RemoteHost, config: str) -> list[int]:
    pids = []
    for pid in remote.pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"VIRTUALBMC_CONFIG={config}".encode() in environ and b"vbmcd" in cmdline:
            pids.append(pid)
    return pids


def _status(lab: Path, remote: RemoteHost) -> dict:
    return json.loads(ffulab("status", "-w", str(lab), "--json", env=remote.env()).stdout)


def _power(lab: Path, remote: RemoteHost, node: str, key: str = "power") -> str:
    return next(n for n in _status(lab, remote)["nodes"] if n["name"] == node)[key]


def _undercloud(lab: Path, remote: RemoteHost, command: str, check: bool = True):
    return ffulab("ssh", "-w", str(lab), "undercloud", "--", command, env=remote.env(), check=check)


def test_ssh_reaches_both_nodes_through_the_remote(lab, remote):
    kernel = state_of(lab)["image"]["kernel_version"]
    assert _undercloud(lab, remote, "uname -r").stdout.strip() == kernel
    result = ffulab("ssh", "-w", str(lab), "overcloud-controller-0", "--", "hostname", env=remote.env())
    assert result.stdout.strip() == "overcloud-controller-0"
    config = (lab / "ssh.config.ansible").read_text()
    assert f"ProxyCommand ssh -W %h:%p root@{HOST}" in config and "ProxyJump undercloud" in config


def test_ipmi_power_through_the_remote_vbmcd(lab, remote):
    node = "overcloud-controller-0"
    env = json.loads((lab / "instackenv.json").read_text())["nodes"][0]
    ipmi = f"ipmitool -I lanplus -H {env['pm_addr']} -p {env['pm_port']} -U {env['pm_user']}"
    ipmi += " -f /root/.ipmi-password"
    assert _power(lab, remote, node, "ipmi_power") == "on"  # status asks the BMC from the remote
    assert _undercloud(lab, remote, f"{ipmi} power off").returncode == 0
    assert _wait(lambda: _power(lab, remote, node), "off")
    assert _power(lab, remote, node, "ipmi_power") == "off"
    assert _undercloud(lab, remote, f"{ipmi} power on").returncode == 0
    assert _wait(lambda: _power(lab, remote, node), "running")
    wrong = _undercloud(lab, remote, ipmi.replace("-f /root/.ipmi-password", "-P wrong") + " power status",
                        check=False)  # fmt: skip
    assert "Unable to establish IPMI v2 / RMCP+ session" in wrong.stdout + wrong.stderr
    ffulab("run", "-j", "ffu-minimal", "-w", str(lab), "-t", "bmc", env=remote.env())  # converges, SSH back


def _wait(read, wanted: str, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read() == wanted:
            return True
        time.sleep(1)
    return False


def test_snapshots_on_the_remote(lab, remote):
    started = time.monotonic()
    ffulab("snapshot", "create", "-w", str(lab), "s1", env=remote.env())
    created = time.monotonic() - started
    _undercloud(lab, remote, "touch /root/after-s1")
    listing = json.loads(ffulab("snapshot", "list", "-w", str(lab), "--json", env=remote.env()).stdout)
    assert [row["name"] for row in listing["snapshots"]] == ["s1"]
    assert listing["overlays_bytes"] > 0  # qemu-img info on the remote's disks
    started = time.monotonic()
    result = ffulab("snapshot", "revert", "-w", str(lab), "s1", env=remote.env())
    print(f"snapshot create {created:.1f} s, revert to usable {time.monotonic() - started:.1f} s")
    assert "lab back at s1" in result.stdout
    assert "after-s1" not in _undercloud(lab, remote, "ls /root").stdout
    ffulab("snapshot", "delete", "-w", str(lab), "s1", env=remote.env())
    names = remote.ssh(f"virsh snapshot-list {state_of(lab)['layout']['nodes'][0]['domain']} --name").stdout
    assert names.split() == []


def test_the_mirror_is_served_from_the_remote_and_polled_there(lab, remote, tmp_path, monkeypatch):
    """The undercloud pulls an archive over HTTP from a server on the remote's ctlplane bridge; the
    downtime poller, run on the remote too, sees that server answer; neither outlives its use."""
    monkeypatch.setenv("PATH", remote.env()["PATH"])  # this process's ssh calls go to the remote too
    state = state_of(lab)
    virthost = Remote(f"root@{HOST}")
    archive = tmp_path / "probe-1.0.tar.zst"
    archive.write_bytes(hashlib.sha256(b"ffulab").digest() * 4096)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    name = "2024.1/probe-1.0.tar.zst"
    index = {"artifacts": [{"file": name, "sha256": sha, "size": archive.stat().st_size}]}
    address = Layout.from_dict(state["layout"]).networks["ctlplane"].gateway
    lines: list[str] = []
    serve = partial(serve_from_virthost, virthost, address, {name: sha}, progress=lines.append)
    sync = sync_mirror(lab, index, {name: archive}, lines.append, serve=serve, directory=MIRROR_TEST_DIR)
    assert sync.method == "http" and sync.sent == [name], lines
    there = _undercloud(lab, remote, f"sha256sum {MIRROR_TEST_DIR}/{name}").stdout
    assert there.split()[0] == sha
    assert remote.ssh(f"test -f {REMOTE_ROOT}/artifacts/{sha}", check=False).returncode == 0

    with serve_from_virthost(virthost, address, {name: sha}, {name: archive}, lines.append) as url:
        poller = Poller.start(virthost, {"mirror": url}, tmp_path / "logs")
        time.sleep(4)
        samples = poller.stop()
    assert samples and all(sample["ok"] for sample in samples), samples
    assert _wait(lambda: str(_python_on_remote(remote)), "[]", timeout=20), _python_on_remote(remote)
    _undercloud(lab, remote, f"rm -rf {MIRROR_TEST_DIR}")


def _python_on_remote(remote: RemoteHost) -> list[int]:
    return [pid for pid, name in _remote_processes(remote).items() if name.startswith("python")]
