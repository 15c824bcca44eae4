"""ensure_image's cache: hit, one build at a time, and never a half image (heavy steps faked)."""

import fcntl
import json
import threading
import time

import pytest

from ffulab.errors import ImageError
from ffulab.image import build, cache
from ffulab.image.build import ensure_image
from ffulab.image.recipe import ImageRecipe

RECIPE = ImageRecipe(mirror="http://deb.example.org/debian")
DIGEST = RECIPE.digest()


def fake_build_into(calls, delay=0.0, fail=False):
    """Stands in for mmdebstrap + mkfs + convert: writes what a real build leaves in ``out``."""

    def build_into(recipe, digest, work, out, say):
        calls.append(work)
        (work / "tree").mkdir()
        time.sleep(delay)
        if fail:
            raise ImageError("build", "mmdebstrap failed")
        for name in (cache.DISK, cache.KERNEL, cache.INITRD):
            (out / name).write_text(name)
        (out / cache.MANIFEST).write_text(json.dumps({"digest": digest, "kernel_version": "6.1.0-test"}))
        say("mmdebstrap: 0 s")

    return build_into


@pytest.fixture
def calls(monkeypatch):
    """Fake the heavy steps and root; the list of work dirs the fake builder was called with."""
    made = []
    monkeypatch.setattr(build, "_build_into", fake_build_into(made))
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    return made


def test_cold_call_builds_into_a_digest_dir_and_leaves_no_work_dir(tmp_path, calls):
    lines = []
    image = ensure_image(RECIPE, tmp_path, lines.append)
    assert image.built and len(calls) == 1
    assert image.digest == DIGEST
    assert image.disk == tmp_path / DIGEST / "disk.qcow2" and image.disk.is_file()
    assert (image.kernel.name, image.initrd.name, image.kernel_version) == (
        "vmlinuz",
        "initrd.img",
        "6.1.0-test",
    )
    assert not list(tmp_path.glob(".build-*"))
    assert "mmdebstrap: 0 s" in lines


def test_cached_call_returns_without_building(tmp_path, calls):
    ensure_image(RECIPE, tmp_path)
    again = ensure_image(RECIPE, tmp_path)
    assert not again.built and len(calls) == 1
    assert again.seconds < 1


def test_cache_dir_defaults_to_xdg_cache_home(tmp_path, calls, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ensure_image(RECIPE).disk.parent == tmp_path / "ffulab/images" / DIGEST


def test_cache_dir_without_xdg_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path / ".cache/ffulab/images"


def test_failed_build_leaves_neither_image_nor_work_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "_build_into", fake_build_into([], fail=True))
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    with pytest.raises(ImageError, match="mmdebstrap failed"):
        ensure_image(RECIPE, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{DIGEST}.lock"]


def test_building_without_root_is_refused_but_a_cached_image_needs_no_root(tmp_path, calls, monkeypatch):
    ensure_image(RECIPE, tmp_path)
    monkeypatch.setattr(build.os, "geteuid", lambda: 1000)
    assert not ensure_image(RECIPE, tmp_path).built
    with pytest.raises(ImageError, match="root"):
        ensure_image(ImageRecipe(mirror=RECIPE.mirror, packages=("haproxy",)), tmp_path)


def test_two_concurrent_callers_build_once_and_the_second_waits(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(build, "_build_into", fake_build_into(made, delay=0.5))
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    results, lines = {}, []

    def call(name):
        results[name] = ensure_image(RECIPE, tmp_path, lines.append)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    while not made:  # the first caller holds the lock and is building
        time.sleep(0.01)
    call("second")
    first.join()
    assert len(made) == 1
    assert results["first"].built and not results["second"].built
    assert any("waiting for another build" in line for line in lines)


def test_work_dir_left_by_a_killed_build_is_removed_next_time(tmp_path, calls):
    leftover = tmp_path / f".build-{DIGEST}-killed"
    (leftover / "tree/etc").mkdir(parents=True)
    lines = []
    ensure_image(RECIPE, tmp_path, lines.append)
    assert not leftover.exists()
    assert any(".build-" in line and "interrupted" in line for line in lines)


def test_leftovers_of_other_digests_go_unless_that_digest_is_being_built(tmp_path, calls):
    idle, busy = "a" * 64, "b" * 64
    (tmp_path / f".build-{idle}-old").mkdir()
    (tmp_path / f".build-{busy}-running").mkdir()
    with open(tmp_path / f"{busy}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        ensure_image(RECIPE, tmp_path)
    assert not (tmp_path / f".build-{idle}-old").exists()
    assert (tmp_path / f".build-{busy}-running").exists()


def test_an_image_dir_missing_a_file_is_rebuilt(tmp_path, calls):
    first = ensure_image(RECIPE, tmp_path)
    first.initrd.unlink()
    again = ensure_image(RECIPE, tmp_path)
    assert again.built and again.initrd.is_file()


def boot_dir(tmp_path, *versions):
    tree = tmp_path / "tree"
    (tree / "boot").mkdir(parents=True)
    for version in versions:
        (tree / f"boot/vmlinuz-{version}").write_text("kernel")
        (tree / f"boot/initrd.img-{version}").write_text("initrd")
        (tree / f"boot/vmlinuz-{version}").chmod(0o600)
    (tmp_path / "out").mkdir()
    return tree, tmp_path / "out"


def test_kernel_and_initrd_are_copied_out_readable_with_their_version(tmp_path):
    tree, out = boot_dir(tmp_path, "6.1.0-50-cloud-amd64")
    assert build._copy_boot_files(tree, out) == "6.1.0-50-cloud-amd64"
    assert (out / "vmlinuz").read_text() == "kernel" and (out / "initrd.img").read_text() == "initrd"
    assert (out / "vmlinuz").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("versions", [(), ("6.1.0-49-cloud-amd64", "6.1.0-50-cloud-amd64")])
def test_anything_but_exactly_one_kernel_fails_the_build(tmp_path, versions):
    tree, out = boot_dir(tmp_path, *versions)
    with pytest.raises(ImageError, match="one kernel"):
        build._copy_boot_files(tree, out)
