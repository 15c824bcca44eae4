"""``ffulab status`` says which release the overcloud is at and each service's version there."""

from __future__ import annotations

from ffulab.commands.status import _overcloud
from ffulab.ui import render_status

RECORDED = {
    "release": "2024.1",
    "versions": {"keystone": "25.0.0"},
    "keystone_url": "http://192.168.101.10:5000/v3",
    "steps": [],
}


def _status(overcloud):
    return {
        "lab": "keystone-only",
        "workspace": "/ws",
        "virthost": {},
        "virt_type": "qemu",
        "phases": {},
        "nodes": [],
        "snapshots": [],
        "overcloud": overcloud,
    }


def test_a_lab_not_deployed_yet_has_no_overcloud_line(capsys):
    assert _overcloud({}) is None
    render_status(_status(None))
    assert "overcloud at" not in capsys.readouterr().out


def test_the_deployed_release_and_versions_are_shown(capsys):
    overcloud = _overcloud(RECORDED)
    assert overcloud == {k: RECORDED[k] for k in ("release", "versions", "keystone_url")}
    render_status(_status(overcloud))
    assert "overcloud at 2024.1: keystone 25.0.0; http://192.168.101.10:5000/v3" in capsys.readouterr().out
