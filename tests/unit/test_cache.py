"""Content-addressed cache entries: one builder per key, work dirs never outlive a build, no rm -rf
through a mount (unmounted first for the image cache, refused for the artifact cache)."""

import fcntl
import threading
import time

import pytest

from ffulab import cache
from ffulab.errors import CacheError


def test_building_removes_its_work_dir_also_when_the_build_fails(tmp_path):
    seen = []
    with pytest.raises(RuntimeError), cache.building(tmp_path, "k1") as work:
        (work / "half-made").write_text("x")
        seen.append(work)
        raise RuntimeError("killed")
    assert not seen[0].exists()
    assert not (tmp_path / "k1").exists(), "a failed build publishes nothing"


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


def test_building_reports_each_stale_work_dir_it_removes(tmp_path):
    leftover = tmp_path / f"{cache.BUILD_PREFIX}k1-killed"
    leftover.mkdir()
    reported = []
    with cache.building(tmp_path, "k1", on_stale=reported.append) as work:
        assert work.name.startswith(f"{cache.BUILD_PREFIX}k1-")
    assert reported == [leftover] and not leftover.exists()


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
        f"36 35 98:0 / {escaped}/tree/dev rw - devtmpfs udev rw\n"
        f"37 35 98:0 / {escaped}x rw - tmpfs t rw\n"
        "38 35 98:0 / /proc rw - proc proc rw\n"
        f"39 35 98:0 / {escaped}/merged rw - overlay ovl rw\n"
    )
    assert cache.mounts_below(base, mountinfo) == [base / "tree/dev", base / "merged"]


def test_remove_tree_refuses_a_tree_with_something_mounted_below(tmp_path, monkeypatch):
    tree = tmp_path / "work"
    (tree / "merged").mkdir(parents=True)
    monkeypatch.setattr(cache, "mounts_below", lambda path: [tree / "merged"])
    with pytest.raises(CacheError, match="mounted below") as caught:
        cache.remove_tree(tree)
    assert tree.exists()
    assert f"hint: umount {tree / 'merged'}" in str(caught.value)


def test_remove_tree_with_unmount_unmounts_what_is_mounted_inside_deepest_first(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "tree/dev/pts").mkdir(parents=True)
    mounted = [work / "tree/dev", work / "tree/dev/pts"]
    unmounted = []

    def umount(argv, **kw):
        unmounted.append(argv[-1])
        mounted.remove(type(work)(argv[-1]))

    monkeypatch.setattr(cache, "mounts_below", lambda path: list(mounted))
    monkeypatch.setattr(cache, "run", umount)
    cache.remove_tree(work, unmount=True)
    assert unmounted == [str(work / "tree/dev/pts"), str(work / "tree/dev")]
    assert not work.exists()


def test_remove_tree_with_unmount_refuses_while_something_stays_mounted(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "mounts_below", lambda path: [tmp_path / "dev"])
    monkeypatch.setattr(cache, "run", lambda argv, **kw: None)
    with pytest.raises(CacheError, match="still mounted"):
        cache.remove_tree(tmp_path, unmount=True)
    assert tmp_path.exists()
