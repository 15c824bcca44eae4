"""``ffulab status`` says which release the overcloud is at, each service's version and each API."""

from __future__ import annotations

from ffulab.ui import render_status

OVERCLOUD = {
    "release": "2024.1",
    "versions": {"keystone": "25.0.0"},
    "apis": {"identity": "http://192.168.101.10:5000/v3"},
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
    render_status(_status(None))
    assert "overcloud at" not in capsys.readouterr().out


def test_the_deployed_release_versions_and_apis_are_shown(capsys):
    render_status(_status(OVERCLOUD))
    out = capsys.readouterr().out
    assert "overcloud at 2024.1: keystone 25.0.0; APIs: identity http://192.168.101.10:5000/v3" in out
