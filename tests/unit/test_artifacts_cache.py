"""The artifact cache: one builder per key, work dirs never outlive a build, no rm -rf through a mount."""

import fcntl
import threading
import time

import pytest

from ffulab.artifacts import cache
from ffulab.artifacts.errors import ArtifactError


def test_building_removes_its_work_dir_also_when_the_build_fails(tmp_path):
    seen = []
    with pytest.raises(RuntimeError), cache.building(tmp_path, "k1") as work:
        (work / "half-made").write_text("x")
        seen.append(work)
        raise RuntimeError("killed")
    assert not seen[0].exists()
    assert not (tmp_path / "k1").exists(), "a failed build publishes nothing"


def test_publish_appears_by_rename_and_replaces_an_incomplete_leftover(tmp_path):
    leftover = tmp_path / "k1"
    leftover.mkdir()
    (leftover / "junk").write_text("from a hand-damaged entry")
    with cache.building(tmp_path, "k1") as work:
        ready = work / "entry"
        ready.mkdir()
        (ready / cache.MANIFEST).write_text("{}")
        final = cache.publish(ready, tmp_path, "k1")
    assert final == tmp_path / "k1"
    assert cache.is_complete(final)
    assert not (final / "junk").exists()
    assert not list(tmp_path.glob(f"{cache.BUILD_PREFIX}*"))


def test_stale_work_dirs_are_removed_unless_their_build_is_running(tmp_path):
    dead = tmp_path / f"{cache.BUILD_PREFIX}deadkey-abc123"
    running = tmp_path / f"{cache.BUILD_PREFIX}livekey-def456"
    own = tmp_path / f"{cache.BUILD_PREFIX}mykey-ghi789"
    for work in (dead, running, own):
        work.mkdir()
    with open(tmp_path / "livekey.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        removed = cache.remove_stale(tmp_path, "mykey")
    assert sorted(removed) == sorted([dead, own])
    assert running.exists() and not dead.exists() and not own.exists()


def test_key_lock_makes_a_second_caller_wait_and_says_so(tmp_path):
    order, waits = [], []

    def second():
        with cache.key_lock(tmp_path, "k", lambda: waits.append("waiting")):
            order.append("second")

    with cache.key_lock(tmp_path, "k"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
    thread.join(5)
    assert order == ["first done", "second"]
    assert waits == ["waiting"]


def test_mounts_below_decodes_octal_escapes(tmp_path):
    base = tmp_path / "cache dir"
    escaped = str(base).replace(" ", "\\040")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        f"36 35 98:0 / {escaped}/merged rw - overlay ovl rw\n"
        f"37 35 98:0 / {escaped}x rw - tmpfs t rw\n"
        "38 35 98:0 / /proc rw - proc proc rw\n"
    )
    assert cache.mounts_below(base, mountinfo) == [base / "merged"]


def test_remove_tree_refuses_a_tree_with_something_mounted_below(tmp_path, monkeypatch):
    tree = tmp_path / "work"
    (tree / "merged").mkdir(parents=True)
    monkeypatch.setattr(cache, "mounts_below", lambda path: [tree / "merged"])
    with pytest.raises(ArtifactError, match="mounted below"):
        cache.remove_tree(tree)
    assert tree.exists()


def test_default_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.default_cache() == tmp_path / "ffulab"
