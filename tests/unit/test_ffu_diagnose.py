"""A workload still down at the end of the FFU: its role's probe tells a frozen instance from a network
outage. nova's probe script runs here for real against a fake ``virsh``; ssh is replaced by running
the same command locally."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from ffulab.catalog import Catalog
from ffulab.errors import ConfigError
from ffulab.ffu import dataplane, diagnose
from ffulab.paths import data_root
from ffulab.state import Workload

PROBE = data_root() / "roles" / "nova" / "files" / "workload_probe.sh"
SERVER = "c79e0cdb-c08f-4d79-89d3-c7a456fe64de"
FAKE_VIRSH = """#!/bin/sh
# the fake's answers come from files in $FAKE: state, and registers.N for the Nth monitor read
shift 2  # -c qemu:///system
case "$1" in
domstate)
    [ -f "$FAKE/state" ] || { echo "error: failed to get domain '$2'" >&2; exit 1; }
    cat "$FAKE/state"
    ;;
domstats) echo "Domain: '$3'"; echo "  vcpu.0.time=$(date +%s%N)" ;;
qemu-monitor-command)
    n=$(($(cat "$FAKE/reads" 2>/dev/null || echo 0) + 1)); echo $n > "$FAKE/reads"
    echo "RAX=0000000000000000 RBX=0000000000021693"
    echo "RIP=$(cat "$FAKE/registers.$n") EFL=... CPL=0"
    ;;
esac
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a fake virsh and no sleep's wait; the instance's files under ``tmp_path``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"virsh": FAKE_VIRSH, "sleep": "#!/bin/sh\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    (tmp_path / "instances" / SERVER).mkdir(parents=True)
    (tmp_path / "instances" / SERVER / "console.log").write_text("ffulab-workload: uptime 610.23\r\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE", str(tmp_path))
    monkeypatch.setenv("NOVA_INSTANCES_PATH", str(tmp_path / "instances"))
    return tmp_path


def _registers(fake: Path, *reads: str) -> None:
    for n, text in enumerate(reads, 1):
        (fake / f"registers.{n}").write_text(text)


def _probe() -> str:
    done = subprocess.run(
        ["sh", "-s", "--", SERVER], input=PROBE.read_text(), capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_same_rip_with_interrupts_off_three_times_is_a_frozen_instance(fake: Path):
    (fake / "state").write_text("running\n")
    _registers(fake, *["ffffffff81123456 RFL=00000002"] * 3)
    line = _probe()
    assert "FROZEN" in line and "not the network" in line, line
    assert "console: ffulab-workload: uptime 610.23" in line


@pytest.mark.parametrize(
    "reads",
    [
        ("ffffffff81123456 RFL=00000002", "ffffffff81123499 RFL=00000002", "ffffffff81123456 RFL=00000002"),
        ("ffffffff81000000 RFL=00000246",) * 3,  # idle in hlt with interrupts on: it would wake
    ],
)
def test_a_moving_or_interruptible_vcpu_is_running(fake: Path, reads: tuple[str, ...]):
    (fake / "state").write_text("running\n")
    _registers(fake, *reads)
    line = _probe()
    assert ": running;" in line and "FROZEN" not in line, line


def test_a_stopped_or_missing_domain_says_so(fake: Path):
    (fake / "state").write_text("shut off\n")
    assert _probe().startswith(f"instance {SERVER}: shut off on ")
    (fake / "state").unlink()
    assert "no libvirt domain on" in _probe()


def _record(open_: bool) -> dict:
    samples = [{"t": 0.0, "probe": "workload", "kind": "icmp", "ok": True, "ms": 1.0}]
    samples += [{"t": 1.0, "probe": "workload", "kind": "icmp", "ok": False}]
    if not open_:
        samples += [{"t": 2.0, "probe": "workload", "kind": "icmp", "ok": True, "ms": 1.0}]
    return samples


def test_only_a_workload_still_down_is_probed_and_its_line_fails_the_job(
    fake: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(diagnose, "ssh_argv", lambda workspace, host, command: command)
    (fake / "state").write_text("running\n")
    _registers(fake, *["ffffffff81123456 RFL=00000002"] * 3)
    workloads = {
        "workload": Workload(address="192.168.100.183", server=SERVER, host="compute-0", service="nova"),
        "router": Workload(address="192.168.100.100", host="compute-0", service="neutron"),
    }
    catalog = Catalog.load(data_root() / "roles")
    came_back = dataplane.merge({}, workloads, _record(open_=False), until=None)
    assert diagnose.diagnose(fake, catalog, workloads, came_back) == {}, "back by the end: not probed"
    records = dataplane.merge({}, workloads, _record(open_=True), until=None)
    found = diagnose.diagnose(fake, catalog, workloads, records)
    assert list(found) == ["workload"], "the router has no server to probe"
    assert records["workload"].instance == found["workload"] and "FROZEN" in found["workload"]
    assert any("FROZEN" in line for line in dataplane.problems(records, 60, 1))
    again = dataplane.merge(records, workloads, _record(open_=False), until=None)  # a rerun: back up
    assert diagnose.diagnose(fake, catalog, workloads, again) == {} and again["workload"].instance is None


def test_a_probe_that_cannot_run_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(diagnose, "ssh_argv", lambda workspace, host, command: ["false"])
    assert diagnose.probe(tmp_path, "compute-0", SERVER, "") == "the probe on compute-0 failed: exit 1"


def test_a_role_naming_a_probe_it_does_not_have_is_a_config_error(tmp_path: Path):
    role = tmp_path / "svc"
    role.mkdir()
    spec = {"kind": "system", "summary": "s", "deploy": "d", "workload_probe": "probe.sh"}
    (role / "ffulab.yml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"roles/svc/ffulab.yml: workload_probe: no file files/probe.sh"):
        Catalog.load(tmp_path)
    (role / "files").mkdir()
    (role / "files" / "probe.sh").write_text("#!/bin/sh\n")
    assert Catalog.load(tmp_path)["svc"].workload_probe == "probe.sh"
