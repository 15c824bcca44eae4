"""The undercloud's release mirror: what a sync sends, keeps and removes, run against a local directory.

The undercloud's shell is played by a local ``sh`` (ssh_argv patched), its disk by a temp dir; the
HTTP path serves from 127.0.0.1 (loopback, not a lab address).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from functools import partial
from pathlib import Path

import pytest

from ffulab.deploy import mirror
from ffulab.deploy.mirror import MirrorError, apply_script, parse_listing, plan_sync, serve_files, sync_mirror

pytestmark = pytest.mark.skipif(not shutil.which("sha256sum"), reason="needs coreutils")


def entry(series: str, name: str, data: bytes) -> dict:
    return {
        "name": name.split("-")[0],
        "version": name.split("-")[1],
        "series": series,
        "file": f"{series}/{name}.tar.zst",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "venv": f"/opt/openstack/{name}",
    }


@pytest.fixture
def artifacts(tmp_path: Path):
    """Three fake archives in a local 'cache' and the index that lists them."""
    cache = tmp_path / "cache"
    cache.mkdir()
    files, entries = {}, []
    for series, name in (
        ("2024.1", "keystone-25.0.0"),
        ("2024.2", "keystone-26.1.1"),
        ("2026.2", "openstackclient-10.2.1"),
    ):
        data = f"archive of {name}".encode() * 100
        path = cache / f"{name}.tar.zst"
        path.write_bytes(data)
        item = entry(series, name, data)
        files[item["file"]] = path
        entries.append(item)
    return {"artifacts": entries}, files


@pytest.fixture
def undercloud(tmp_path: Path, monkeypatch):
    """The 'undercloud': ssh runs the remote command with a local sh; returns the mirror directory."""
    directory = tmp_path / "undercloud" / "srv" / "mirror"
    monkeypatch.setattr(mirror, "ssh_argv", lambda workspace, node, command: ["sh", "-c", " ".join(command)])
    return directory


def sync(index, files, directory, serve=None, progress=None):
    return sync_mirror(
        Path("/nonexistent"), index, files, progress or (lambda line: None), serve, str(directory)
    )


def test_first_sync_sends_everything_then_nothing(artifacts, undercloud):
    index, files = artifacts
    first = sync(index, files, undercloud)
    assert first.method == "ssh-tar" and len(first.sent) == 3 and first.kept == []
    for item in index["artifacts"]:
        assert (undercloud / item["file"]).read_bytes() == files[item["file"]].read_bytes()
    assert json.loads((undercloud / "index.json").read_text()) == index
    assert not (undercloud / ".incoming").exists()
    again = sync(index, files, undercloud)
    assert again.sent == [] and len(again.kept) == 3 and again.method == "none"


def test_a_changed_or_damaged_artifact_is_sent_again_alone(artifacts, undercloud):
    index, files = artifacts
    sync(index, files, undercloud)
    (undercloud / "2024.2/keystone-26.1.1.tar.zst").write_bytes(b"truncated")
    result = sync(index, files, undercloud)
    assert result.sent == ["2024.2/keystone-26.1.1.tar.zst"] and len(result.kept) == 2
    assert (undercloud / "2024.2/keystone-26.1.1.tar.zst").read_bytes() == files[result.sent[0]].read_bytes()


def test_artifacts_no_longer_in_the_index_are_removed(artifacts, undercloud):
    index, files = artifacts
    sync(index, files, undercloud)
    smaller = {"artifacts": index["artifacts"][1:]}
    result = sync(smaller, files, undercloud)
    assert result.removed == ["2024.1/keystone-25.0.0.tar.zst"] and result.sent == []
    assert not (undercloud / "2024.1").exists()
    assert json.loads((undercloud / "index.json").read_text()) == smaller


def test_a_file_whose_sha256_differs_from_the_index_is_refused(artifacts, undercloud):
    index, files = artifacts
    files["2024.1/keystone-25.0.0.tar.zst"].write_bytes(b"not what the manifest says")
    with pytest.raises(MirrorError, match=r"filling .* failed"):
        sync(index, files, undercloud)
    assert not (undercloud / "index.json").exists(), "the index is written only after every check passed"


def test_the_undercloud_can_pull_over_http_from_the_virthost(artifacts, undercloud):
    if not shutil.which("curl"):
        pytest.skip("needs curl")
    index, files = artifacts
    serve = partial(serve_files, lambda argv: argv, "127.0.0.1")
    result = sync(index, files, undercloud, serve=serve)
    assert result.method == "http" and len(result.sent) == 3
    for item in index["artifacts"]:
        assert (undercloud / item["file"]).read_bytes() == files[item["file"]].read_bytes()


def test_the_http_server_is_gone_after_the_sync(artifacts):
    _, files = artifacts
    with serve_files(lambda argv: argv, "127.0.0.1", files) as url:
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
    with contextlib.closing(__import__("socket").socket()) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_parse_listing_reads_index_and_sizes():
    output = '{"artifacts": []}\n--- ffulab mirror files ---\n2024.1/keystone-25.0.0.tar.zst 123\nbad line\n'
    index, sizes = parse_listing(output)
    assert index == {"artifacts": []} and sizes == {"2024.1/keystone-25.0.0.tar.zst": 123}
    assert parse_listing("{torn\n--- ffulab mirror files ---\n") == ({}, {})


def test_plan_sync_keeps_only_what_matches_sha256_and_size(artifacts):
    index, _ = artifacts
    a, b, c = index["artifacts"]
    remote = {"artifacts": [a, {**b, "sha256": "0" * 64}, c]}
    sizes = {a["file"]: a["size"], b["file"]: b["size"], c["file"]: c["size"] - 1, "old/x.tar.zst": 5}
    send, keep, remove = plan_sync(index, remote, sizes)
    assert [e["file"] for e in send] == [b["file"], c["file"]]
    assert keep == [a] and remove == ["old/x.tar.zst"]


def test_apply_script_checks_sums_before_moving_and_writes_the_index_last(artifacts):
    index, _ = artifacts
    script = apply_script(index["artifacts"], [], json.dumps(index), None, "/srv/m")
    lines = script.splitlines()
    check = next(i for i, line in enumerate(lines) if line.startswith("sha256sum"))
    first_move = next(i for i, line in enumerate(lines) if line.startswith("mv -f 2024.1"))
    index_move = next(i for i, line in enumerate(lines) if line.startswith("mv -f index.json"))
    assert check < first_move < index_move


@pytest.fixture
def ssh_virthost(tmp_path: Path, monkeypatch):
    """An ssh virthost whose commands run here, its directory a temp dir; the server's staging
    directories land in a temp dir of their own (TMPDIR)."""
    from ffulab.virthost import remote as remote_module

    monkeypatch.setattr(remote_module, "REMOTE_ROOT", str(tmp_path / "remote"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "remote-tmp"))
    (tmp_path / "remote-tmp").mkdir()

    class HereRemote(remote_module.Remote):
        def on_host(self, argv):
            return list(argv)

    return HereRemote("lab1"), tmp_path / "remote"


def test_on_an_ssh_virthost_the_files_are_copied_once_and_served_there(artifacts, undercloud, ssh_virthost):
    if not shutil.which("curl"):
        pytest.skip("needs curl")
    index, files = artifacts
    virthost, root = ssh_virthost
    sums = {item["file"]: item["sha256"] for item in index["artifacts"]}
    lines: list[str] = []
    serve = partial(mirror.serve_from_virthost, virthost, "127.0.0.1", sums, progress=lines.append)
    result = sync(index, files, undercloud, serve=serve, progress=lines.append)
    assert result.method == "http" and len(result.sent) == 3
    for item in index["artifacts"]:
        assert (undercloud / item["file"]).read_bytes() == files[item["file"]].read_bytes()
    assert sorted(p.name for p in (root / "artifacts").iterdir()) == sorted(sums.values())
    assert any("copying 3 file(s)" in line for line in lines), lines
    lines.clear()
    with mirror.serve_from_virthost(virthost, "127.0.0.1", sums, files, lines.append) as url:
        port = int(url.rsplit(":", 1)[1])
    assert lines == [], "files already in the virthost's store are copied again"
    with contextlib.closing(__import__("socket").socket()) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the server outlived its use"
    assert list((root.parent / "remote-tmp").iterdir()) == [], "its staging directory is left"
