"""The workload image's pieces: what apt resolves, the cache key, module order, the newc initramfs."""

# ruff: noqa: E501  (apt's lines are long)
from __future__ import annotations

import gzip

import pytest

from ffulab.errors import ImageError
from ffulab.image import workload
from ffulab.image.workload import Package

PRINT_URIS = """\
'http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1%3a1.35.0-4%2bdeb12u1%2bb1_amd64.deb' busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb 928188 SHA256:3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744
'http://deb.debian.org/debian-security/pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb' linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb 26705532 SHA256:4fdd0172a8c3f41a97e92465b2ac1867e1c10d82d7aeed3d26ee7a5d14df1754
"""


def test_print_uris_lines_give_each_package_its_file_size_and_sha256():
    busybox, kernel = workload.parse_print_uris(PRINT_URIS)
    assert busybox == Package(
        "busybox-static",
        "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb",
        928188,
        "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
    )
    assert kernel.name == "linux-image-6.1.0-57-cloud-amd64" and kernel.size == 26705532


def test_the_kernel_metapackage_resolves_to_its_versioned_kernel():
    out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n"
    assert workload.kernel_package(out) == "linux-image-6.1.0-57-cloud-amd64"
    with pytest.raises(ImageError, match="no versioned kernel"):
        workload.kernel_package("linux-image-cloud-amd64\n  Depends: initramfs-tools\n")


def test_the_cache_key_changes_with_a_package_a_file_or_nothing():
    packages = workload.parse_print_uris(PRINT_URIS)
    files = {"init": "#!/bin/busybox sh\n", "bin/http.sh": "echo\n"}
    key = workload.digest(packages, files)
    assert key == workload.digest(list(reversed(packages)), dict(files)), "order does not matter"
    other = [packages[0], Package(packages[1].name, packages[1].file, packages[1].size, "0" * 64)]
    assert workload.digest(other, files) != key, "a rebuilt .deb is another image"
    assert workload.digest(packages, {**files, "init": "#!/bin/sh\n"}) != key, "so is another /init"
    assert workload.digest(packages) == workload.digest(packages, workload.files_text())


def test_module_depends_reads_the_modinfo_section():
    modinfo = b"\x00license=GPL\x00depends=virtio,virtio_ring,net-failover\x00name=virtio_net\x00"
    assert workload.module_depends(b"\x7fELF...." + modinfo) == ["virtio", "virtio_ring", "net_failover"]
    assert workload.module_depends(b"\x00depends=\x00name=virtio\x00") == []


def test_modules_load_after_their_dependencies_each_once():
    graph = {
        "virtio_net": ["virtio", "virtio_ring", "net_failover"],
        "net_failover": ["failover"],
        "failover": [],
        "virtio": [],
        "virtio_ring": [],
        "virtio_pci": ["virtio", "virtio_ring", "virtio_pci_modern_dev"],
        "virtio_pci_modern_dev": [],
    }
    order = workload.load_order(["virtio_pci", "virtio_net"], graph.__getitem__)
    assert sorted(order) == sorted(graph) and len(order) == len(set(order))
    for module, dependencies in graph.items():
        assert all(order.index(d) < order.index(module) for d in dependencies), (module, order)
    with pytest.raises(ImageError, match="cycle"):
        workload.load_order(["a"], {"a": ["b"], "b": ["a"]}.__getitem__)


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """A minimal newc reader: path -> (mode, data)."""
    found, at = {}, 0
    while True:
        assert data[at : at + 6] == b"070701", f"bad magic at {at}"
        fields = [int(data[at + 6 + 8 * i : at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = at + 110
        name = data[name_at : name_at + namesize - 1].decode()
        at = name_at + namesize
        at += -at % 4
        body = data[at : at + size]
        at += size
        at += -at % 4
        if name == "TRAILER!!!":
            return found
        found[name] = (mode, body)


def test_the_initramfs_is_a_gzipped_newc_archive_with_init_busybox_and_ordered_modules():
    files = {"init": "#!/bin/busybox sh\necho hi\n", "bin/http.sh": "#!/bin/sh\n"}
    modules = [("virtio", b"ko-a"), ("virtio_net", b"ko-bb")]
    packed = workload.initramfs(b"\x7fELFbusybox", modules, files)
    assert packed == workload.initramfs(b"\x7fELFbusybox", modules, files), "reproducible (mtime 0)"
    entries = _read_newc(gzip.decompress(packed))
    assert entries["init"] == (0o100755, files["init"].encode())
    assert entries["bin/http.sh"][0] == 0o100755, "udhcpc and nc -e need executable scripts"
    assert entries["bin/busybox"] == (0o100755, b"\x7fELFbusybox")
    assert entries["lib/modules/virtio_net.ko"] == (0o100644, b"ko-bb")
    assert entries["lib/modules/order"][1] == b"virtio\nvirtio_net\n"
    assert {"dev", "proc", "sys"} <= {name for name, (mode, _) in entries.items() if mode & 0o040000}


def test_the_shipped_init_loads_the_order_leases_with_mtu_and_serves_tcp_80():
    text = workload.files_text()
    assert set(text) == {"init", "bin/udhcpc.script", "bin/http.sh"}
    init = text["init"]
    assert "/lib/modules/order" in init and "-O mtu" in init and "-q" in init
    assert "nc -ll -p 80 -e /bin/http.sh" in init
    assert "/proc/uptime" in text["bin/http.sh"]


def test_a_role_declares_that_it_uses_the_workload_image_and_nothing_unknown(tmp_path):
    import yaml

    from ffulab.catalog import Catalog
    from ffulab.config.resolve import resolve
    from ffulab.errors import ConfigError

    role = tmp_path / "svc"
    role.mkdir()
    base = {"kind": "system", "summary": "s", "deploy": "d"}
    (role / "ffulab.yml").write_text(yaml.safe_dump(base))
    assert Catalog.load(tmp_path)["svc"].uses == []
    (role / "ffulab.yml").write_text(yaml.safe_dump({**base, "uses": ["workload_image"]}))
    assert Catalog.load(tmp_path)["svc"].uses == ["workload_image"]
    (role / "ffulab.yml").write_text(yaml.safe_dump({**base, "uses": ["cirros"]}))
    with pytest.raises(ConfigError, match=r"roles/svc/ffulab.yml: uses.0"):
        Catalog.load(tmp_path)
    keystone = resolve(job="ffu-keystone-only")
    assert not keystone.catalog.uses(keystone.config, "workload_image")


def test_the_mirror_entry_names_the_archive_by_digest_with_its_sha256(tmp_path):
    import hashlib as hl

    directory = tmp_path / ("ab" * 32)
    directory.mkdir()
    (directory / workload.ARCHIVE).write_bytes(b"archive bytes")
    image = workload.WorkloadImage("ab" * 32, directory, "6.1.0-57-cloud-amd64", False, 0.0)
    entry = workload.workload_mirror_entry(image)
    assert entry["file"] == "images/workload-abababababababab.tar.zst", (
        "under images/, a .tar.zst the sync lists"
    )
    assert entry["sha256"] == hl.sha256(b"archive bytes").hexdigest() and entry["size"] == 13
    assert entry["cmdline"] == workload.CMDLINE and entry["tcp"] == 80
    assert entry["kernel_version"] == "6.1.0-57-cloud-amd64" and entry["digest"] == "ab" * 32
