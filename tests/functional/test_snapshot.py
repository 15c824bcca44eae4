"""Lab snapshots on a real 1ctlr lab (sandbox virthost, TCG): create, revert, list, delete, run from one.

Needs root; brings up its own lab and destroys it at the end whatever happens. Other labs on
the same virthost are left alone.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from lab_helpers import ffulab, state_of, virsh_names

pytestmark = pytest.mark.functional

SMALL = ["-e", "nodes.undercloud.memory=1536", "-e", "nodes.overcloud.0.memory=1536"]
PHASES = "virthost,image,provision,bmc"
NODES = ("undercloud", "overcloud-controller-0")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A 1ctlr lab up to the bmc phase with snapshot s1; always destroyed at the end."""
    workspace = tmp_path_factory.mktemp("snaplab") / "ws"
    try:
        ffulab("run", "-w", str(workspace), "-N", "nodes/1ctlr.yml", *SMALL, "-t", PHASES)
        ffulab("snapshot", "create", "s1", "-w", str(workspace))
        yield workspace
    finally:
        if (workspace / "state.json").exists():
            names = [n["domain"] for n in state_of(workspace).get("layout", {}).get("nodes", [])]
            ffulab("destroy", "-w", str(workspace))
            assert not set(names) & set(virsh_names("domains")), "destroy left a domain of this lab"


def _ssh(workspace: Path, node: str, command: str) -> str:
    return ffulab("ssh", "-w", str(workspace), node, "--", command).stdout.strip()


def _snapshots_in_libvirt(workspace: Path) -> dict[str, list[str]]:
    found = {}
    for node in state_of(workspace)["layout"]["nodes"]:
        result = subprocess.run(
            ["virsh", "-c", "qemu:///system", "snapshot-list", node["domain"], "--name"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        found[node["name"]] = result.stdout.split()
    return found


def test_revert_undoes_a_change_and_leaves_the_lab_usable_with_clocks_right(lab):
    _ssh(lab, "overcloud-controller-0", "touch /root/written-after-s1")
    time.sleep(5)  # the guest clocks fall behind by this much on revert
    result = ffulab("snapshot", "revert", "s1", "-w", str(lab))
    assert "lab back at s1" in result.stdout

    listing = _ssh(lab, "overcloud-controller-0", "ls /root")
    assert "written-after-s1" not in listing, "the file written after the snapshot must be gone"
    for node in NODES:
        before = time.time()
        guest = float(_ssh(lab, node, "date -u +%s.%N"))
        after = time.time()
        assert before - 2 <= guest <= after + 2, f"{node}'s clock is {guest - after:+.1f}s off the host's"
    state = state_of(lab)
    assert state["last_revert"]["snapshot"] == "s1"
    assert state["phases"]["bmc"]["status"] == "done"


def test_list_shows_the_snapshot_with_its_phase_and_size(lab):
    listed = json.loads(ffulab("snapshot", "list", "-w", str(lab), "--json").stdout)
    [s1] = [row for row in listed["snapshots"] if row["name"] == "s1"]
    assert s1["phase"] == "bmc" and s1["status"] == "complete"
    assert set(s1["nodes"]) == set(NODES)
    assert all(size and size > 50 * 2**20 for size in s1["nodes"].values()), "a running guest's memory"
    assert "s1" in ffulab("snapshot", "list", "-w", str(lab)).stdout


def test_delete_removes_it_from_libvirt_and_the_state(lab):
    ffulab("snapshot", "create", "s2", "-w", str(lab))
    assert all("s2" in names for names in _snapshots_in_libvirt(lab).values())
    ffulab("snapshot", "delete", "s2", "-w", str(lab))
    assert not any("s2" in names for names in _snapshots_in_libvirt(lab).values())
    listed = json.loads(ffulab("snapshot", "list", "-w", str(lab), "--json").stdout)
    assert [row["name"] for row in listed["snapshots"]] == ["s1"]


def test_run_from_snapshot_reverts_then_runs_the_phases(lab):
    _ssh(lab, "undercloud", "touch /root/written-before-run")
    ffulab("run", "-w", str(lab), "-N", "nodes/1ctlr.yml", *SMALL, "--from-snapshot", "s1", "-t", "bmc")
    assert "written-before-run" not in _ssh(lab, "undercloud", "ls /root")
    assert _ssh(lab, "overcloud-controller-0", "hostname") == "overcloud-controller-0"
