"""prepare applies only what is missing; check reports each gap with its fix; the report as text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from ffulab.errors import VirthostError
from ffulab.virthost.base import Step, Virthost
from ffulab.virthost.report import CheckReport, Missing


class FakeVirthost(Virthost):
    kind = "local"
    spec = "local"
    uri = "test:///default"
    probe_cache = Path()

    def __init__(self, tmp_path: Path, gaps: dict[str, bool]):
        self.probe_cache = tmp_path / "virt-type.json"
        self.gaps = gaps
        self.applied: list[str] = []
        self.probe_cache.write_text(
            json.dumps({"virt_type": "qemu", "reason": "cached", "kernel": _kernel(), "tcg_seconds": 0.4,
                        "kvm_seconds": None})
        )  # fmt: skip

    def steps(self) -> list[Step]:
        return [Step(name, self._missing(name), self._apply(name)) for name in self.gaps]

    def _missing(self, name):
        return lambda: f"{name} is missing" if self.gaps[name] else None

    def _apply(self, name):
        def apply():
            self.applied.append(name)
            self.gaps[name] = False
            return [f"made {name}"]

        return apply


def _kernel() -> str:
    import os

    return os.uname().release


def test_prepare_applies_only_missing_steps_and_a_second_run_changes_nothing(tmp_path):
    host = FakeVirthost(tmp_path, {"packages": False, "daemons": True})
    seen = []
    assert host.prepare(progress=seen.append) == ["made daemons"]
    assert seen == ["daemons: daemons is missing"]
    assert host.prepare() == []
    assert host.applied == ["daemons"]


def test_check_lists_each_gap_with_the_prepare_command(tmp_path):
    report = FakeVirthost(tmp_path, {"packages": True, "daemons": False}).check()
    assert report.missing == [Missing("packages is missing", "ffulab virthost prepare --virthost local")]
    assert report.libvirt_version  # the test:/// driver answers
    assert (report.virt_type, report.virt_type_reason) == ("qemu", "cached")
    assert report.memory_total_mib and report.memory_total_mib >= (report.memory_available_mib or 0)
    assert set(report.disk_free_mib) >= {"/var/lib/libvirt"}
    assert not report.ok


def test_check_reports_an_unreachable_libvirt_when_no_step_explains_it(tmp_path, monkeypatch):
    host = FakeVirthost(tmp_path, {})
    host.uri = "qemu+unix:///system?socket=/nonexistent/sock"
    report = host.check()
    assert len(report.missing) == 1
    assert "cannot connect to libvirt at qemu+unix" in report.missing[0].what


def test_report_lines_and_dict():
    report = CheckReport(
        kind="sandbox",
        uri="qemu:///system",
        netns="ffulab-sandbox",
        libvirt_version="9.0.0",
        virt_type="qemu",
        virt_type_reason="KVM probe guest not done in 2.4 s",
        memory_total_mib=24 * 1024,
        memory_available_mib=20 * 1024,
        disk_free_mib={"/root/.cache/ffulab": 80 * 1024, "/var/lib/libvirt": None},
        missing=[Missing("libvirtd not running", "ffulab virthost prepare --virthost sandbox")],
    )
    text = "\n".join(report.lines())
    assert "sandbox (qemu:///system, netns ffulab-sandbox)" in text
    assert "qemu (KVM probe guest not done in 2.4 s)" in text
    assert "24.0 GiB total, 20.0 GiB available" in text
    assert "/var/lib/libvirt -" in text
    assert "fix:     ffulab virthost prepare --virthost sandbox" in text
    data = report.to_dict()
    assert data["ok"] is False
    assert data["missing"] == [
        {"what": "libvirtd not running", "fix": "ffulab virthost prepare --virthost sandbox"}
    ]
    json.dumps(data)


def test_libvirt_errors_name_the_uri():
    from ffulab.virthost.connection import libvirt_open

    try:
        with libvirt_open("test:///default") as conn:
            conn.lookupByName("no-such-domain")
    except VirthostError as exc:
        assert "test:///default" in str(exc)
    else:
        raise AssertionError("expected a VirthostError")
