"""The virt-type probe: a well-formed boot sector, the decision rule, the per-kernel cache."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ffulab.errors import VirthostError
from ffulab.virthost import probe
from ffulab.virthost.probe import MARKER, ORG, boot_sector


def test_boot_sector_is_512_bytes_with_the_bios_signature_and_the_marker():
    sector = boot_sector()
    assert len(sector) == 512
    assert sector[510:] == b"\x55\xaa"
    assert MARKER + b"\n\0" in sector


def test_boot_sector_addresses_land_on_their_labels():
    sector = boot_sector()
    lgdt = sector.index(bytes.fromhex("660f0116"))
    gdtr = struct.unpack_from("<H", sector, lgdt + 4)[0] - ORG
    limit, gdt = struct.unpack_from("<HI", sector, gdtr)
    assert limit == 4 * 8 - 1
    assert sector[gdt - ORG : gdt - ORG + 8] == bytes(8)  # the null descriptor
    assert sector[gdt - ORG + 0x18 : gdt - ORG + 0x20] == bytes.fromhex("ffff0000009aaf00")  # 64-bit code
    pm32 = struct.unpack_from("<I", sector, sector.index(bytes.fromhex("66ea")) + 2)[0] - ORG
    assert sector[pm32 : pm32 + 4] == bytes.fromhex("66b81000")  # mov ax,0x10
    lm64 = struct.unpack_from("<I", sector, sector.index(bytes.fromhex("ea"), pm32) + 1)[0] - ORG
    assert sector[lm64 : lm64 + 5] == bytes.fromhex("bf00000001")  # mov edi,16 MiB
    msg = struct.unpack_from("<I", sector, sector.index(bytes.fromhex("be"), lm64) + 1)[0] - ORG
    assert sector[msg : msg + len(MARKER)] == MARKER


def _runs(monkeypatch, results: dict[str, tuple[bool, float, str]]) -> list[tuple[str, float]]:
    calls = []

    def run_guest(on_host, accel, timeout):
        calls.append((accel, timeout))
        return results[accel]

    monkeypatch.setattr(probe, "run_guest", run_guest)
    return calls


def test_kvm_only_when_the_kvm_guest_finishes(monkeypatch):
    calls = _runs(monkeypatch, {"tcg": (True, 0.4, "FFULAB-OK"), "kvm": (True, 0.1, "FFULAB-OK")})
    result = probe.probe(list, "6.1.0")
    assert result.virt_type == "kvm"
    assert calls == [
        ("tcg", probe.TCG_TIMEOUT_SECONDS),
        ("kvm", pytest.approx(0.4 + probe.KVM_GRACE_SECONDS)),
    ]


def test_qemu_when_the_kvm_guest_hangs(monkeypatch):
    _runs(monkeypatch, {"tcg": (True, 0.4, "FFULAB-OK"), "kvm": (False, 2.4, "")})
    result = probe.probe(list, "6.1.0")
    assert (result.virt_type, result.kvm_seconds) == ("qemu", None)
    assert "not done in 2.4 s" in result.reason


def test_qemu_with_qemus_complaint_when_kvm_fails_at_once(monkeypatch):
    _runs(
        monkeypatch,
        {"tcg": (True, 0.4, "FFULAB-OK"), "kvm": (False, 0.1, "Could not access KVM kernel module")},
    )
    assert "Could not access KVM" in probe.probe(list, "6.1.0").reason


def test_a_probe_that_fails_under_tcg_proves_nothing_and_is_an_error(monkeypatch):
    _runs(monkeypatch, {"tcg": (False, 60.0, "qemu: could not load PC BIOS")})
    with pytest.raises(VirthostError, match="could not load PC BIOS"):
        probe.probe(list, "6.1.0")


def test_decision_is_cached_per_kernel(tmp_path: Path, monkeypatch):
    kernel = ["6.1.0-a"]
    probed = []

    def fake_probe(on_host, release):
        probed.append(release)
        return probe.ProbeResult("qemu", "test", release, 0.4, None)

    monkeypatch.setattr(probe, "probe", fake_probe)
    on_host = lambda argv: ["echo", kernel[0]] if argv == ["uname", "-r"] else argv  # noqa: E731
    cache = tmp_path / "virt-type.json"
    assert probe.virt_type(on_host, cache)[1] is True
    assert probe.virt_type(on_host, cache) == (probe.ProbeResult("qemu", "test", "6.1.0-a", 0.4, None), False)
    kernel[0] = "6.1.0-b"
    assert probe.virt_type(on_host, cache)[1] is True
    assert probed == ["6.1.0-a", "6.1.0-b"]
