"""Host setup steps: packages found through dpkg, qemu.conf edited in place and idempotently."""

from __future__ import annotations

from pathlib import Path

from ffulab.virthost.hostsetup import PACKAGES, QEMU_SETTINGS, missing_packages, qemu_conf_step, with_settings

DEBIAN_STYLE = """\
# Master configuration file for the QEMU driver.
#user = "libvirt-qemu"
#group = "libvirt-qemu"
#dynamic_ownership = 1
vnc_listen = "0.0.0.0"
"""


def test_absent_settings_are_appended_and_comments_kept():
    text, changed = with_settings(DEBIAN_STYLE, QEMU_SETTINGS)
    assert changed == ["user", "group", "dynamic_ownership"]
    assert text.startswith(DEBIAN_STYLE)
    assert 'user = "root"' in text.splitlines()
    assert "dynamic_ownership = 0" in text.splitlines()


def test_active_settings_are_rewritten_in_place():
    text, changed = with_settings(
        'user = "qemu"\nsecurity_driver = "none"\ndynamic_ownership=0\n', QEMU_SETTINGS
    )
    lines = text.splitlines()
    assert lines[:3] == ['user = "root"', 'security_driver = "none"', "dynamic_ownership=0"]
    assert changed == ["user", "group"]


def test_second_run_changes_nothing():
    once, _ = with_settings(DEBIAN_STYLE, QEMU_SETTINGS)
    twice, changed = with_settings(once, QEMU_SETTINGS)
    assert (twice, changed) == (once, [])


def test_step_creates_a_missing_file_then_is_satisfied(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    conf = tmp_path / "libvirt" / "qemu.conf"
    restarted = []
    step = qemu_conf_step(conf, after_change=lambda: restarted.append(1) or ["restarted libvirtd"])
    assert "lacks" in step.missing()
    assert step.apply() == [f"{conf}: set user, group, dynamic_ownership", "restarted libvirtd"]
    assert step.missing() is None
    assert restarted == [1]


def _dpkg_says(lines: str):
    """An on_host that answers dpkg-query with ``lines`` (as dpkg prints them, stderr merged)."""
    return lambda argv: ["printf", "%s", lines] if argv[0] == "dpkg-query" else argv


def test_packages_are_missing_unless_dpkg_says_installed():
    output = "".join(f"{name} ii \n" for name in PACKAGES[2:])
    output += f"{PACKAGES[1]} rc \ndpkg-query: no packages found matching {PACKAGES[0]}\n"
    assert missing_packages(on_host=_dpkg_says(output)) == list(PACKAGES[:2])


def test_no_package_missing_when_all_installed():
    output = "".join(f"{name} ii \n" for name in PACKAGES)
    assert missing_packages(on_host=_dpkg_says(output)) == []
