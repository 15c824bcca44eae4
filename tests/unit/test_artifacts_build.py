"""ensure_artifact with the heavy steps faked: cache key, hits, manifests, killed and concurrent builds."""

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

from ffulab.artifacts import build, cache
from ffulab.artifacts.build import (
    BUILD_FORMAT,
    CLIENT,
    SERVICE_EXTRAS,
    ArtifactSpec,
    _Build,
    artifact_key,
    ensure_artifact,
)
from ffulab.artifacts.chroot import Overlay, chroot_argv, clean_env
from ffulab.artifacts.lock import Lock, write_lock
from ffulab.artifacts.roots import Root
from ffulab.cache import BUILD_PREFIX
from ffulab.errors import ArtifactError, LockError

KEYSTONE = ArtifactSpec("keystone", "keystone", SERVICE_EXTRAS, ("keystone-manage", "--version"))
BASE = {
    "spec": KEYSTONE,
    "version": "25.0.0",
    "series": "2024.1",
    "constraints_text": b"oslo.config===9.4.0\n",
    "lock_text": None,
    "builder_digest": "b" * 64,
}


def test_the_key_is_stable_for_the_same_inputs():
    assert artifact_key(**BASE) == artifact_key(**dict(BASE))
    assert len(artifact_key(**BASE)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"version": "25.0.1"},
        {"series": "2024.2"},
        {"constraints_text": b"oslo.config===9.4.1\n"},
        {"lock_text": b"keystone==25.0.0\n"},
        {"builder_digest": "c" * 64},
        {"spec": ArtifactSpec("keystone", "keystone-fork", SERVICE_EXTRAS, KEYSTONE.check)},
        {"spec": ArtifactSpec("keystone", "keystone", SERVICE_EXTRAS, KEYSTONE.check, ("oslo.db<99",))},
        {"spec": CLIENT},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_key_changes_with_every_input(change):
    assert artifact_key(**{**BASE, **change}) != artifact_key(**BASE)


def test_the_key_changes_with_the_build_format_and_ffulabs_own_pins(monkeypatch):
    before = artifact_key(**BASE)
    monkeypatch.setattr(build, "BUILD_FORMAT", BUILD_FORMAT + 1)
    assert artifact_key(**BASE) != before
    monkeypatch.setattr(build, "BUILD_FORMAT", BUILD_FORMAT)
    monkeypatch.setattr(build, "EXTRA_CONSTRAINTS", ("setuptools<81",))
    assert artifact_key(**BASE) != before


def test_an_empty_lock_is_not_the_same_as_no_lock():
    assert artifact_key(**{**BASE, "lock_text": b""}) != artifact_key(**BASE)


def test_service_venvs_get_pymysql_and_gunicorn_and_the_client_is_its_own_artifact():
    assert KEYSTONE.extras == ("PyMySQL", "gunicorn")
    assert KEYSTONE.check_argv("/opt/openstack/keystone-25.0.0") == [
        "/opt/openstack/keystone-25.0.0/bin/keystone-manage",
        "--version",
    ]
    assert CLIENT.project == "python-openstackclient" and "python-openstackclient" not in KEYSTONE.extras
    assert build.venv_path(CLIENT, "10.2.1") == "/opt/openstack/openstackclient-10.2.1"
    glance = ArtifactSpec("glance", "glance", SERVICE_EXTRAS)
    assert glance.check_argv("/v")[:2] == ["/v/bin/python", "-c"] and glance.check_argv("/v")[-1] == "glance"


# --- ensure_artifact with a fake build -------------------------------------------------------------


@pytest.fixture
def fake_build(monkeypatch):
    """Replace the chroot build by one that writes a small entry; count the builds."""
    calls = []

    def run(self, work, uv_cache, index_url, say):
        calls.append((self.spec.name, self.version, self.lock))
        time.sleep(0.2)
        out = work / "entry"
        out.mkdir()
        archive = out / build.archive_name(self.spec, self.version)
        archive.write_bytes(b"hsqs")
        manifest = {
            "key": self.key,
            "service": self.spec.name,
            "version": self.version,
            "series": self.series,
            "venv": build.venv_path(self.spec, self.version),
            "archive": archive.name,
            "sha256": "f" * 64,
            "size": 4,
            "build_seconds": 0.2,
            "freeze": [f"keystone=={self.version}"],
        }
        (out / cache.MANIFEST).write_text(json.dumps(manifest))
        return out

    monkeypatch.setattr(_Build, "run", run)
    return calls


@pytest.fixture
def roots(tmp_path):
    return {
        "builder": Root(tmp_path / "builder", "b" * 64, "python3.11-minimal 3.11.2-6"),
        "runtime": Root(tmp_path / "runtime", "r" * 64, "python3.11-minimal 3.11.2-6"),
    }


@pytest.fixture
def constraints(tmp_path):
    path = tmp_path / "upper-constraints-2024.1.txt"
    path.write_text("oslo.config===9.4.0\n")
    return path


def _ensure(constraints, cache_dir, roots, lock=None, version="25.0.0", **options):
    return ensure_artifact(
        KEYSTONE, version, "2024.1", constraints, lock, cache_dir=cache_dir, **roots, **options
    )


def test_first_call_builds_second_is_a_cache_hit(tmp_path, fake_build, roots, constraints):
    lines = []
    first = ensure_artifact(
        KEYSTONE, "25.0.0", "2024.1", constraints, None, lines.append, cache_dir=tmp_path, **roots
    )
    again = _ensure(constraints, tmp_path, roots)
    assert first.built and not again.built
    assert len(fake_build) == 1
    assert first.key == again.key and first.path == again.path
    assert first.path == tmp_path / "artifacts" / first.key / "keystone-25.0.0.squashfs"
    assert first.venv_path == "/opt/openstack/keystone-25.0.0"
    assert first.manifest["freeze"] == ["keystone==25.0.0"]
    assert any("built" in line for line in lines)


def test_changed_constraints_make_a_new_artifact(tmp_path, fake_build, roots, constraints):
    first = _ensure(constraints, tmp_path, roots)
    constraints.write_text("oslo.config===9.4.1\n")
    second = _ensure(constraints, tmp_path, roots)
    assert second.built and second.key != first.key and len(fake_build) == 2


def test_force_rebuilds_a_cached_artifact(tmp_path, fake_build, roots, constraints):
    _ensure(constraints, tmp_path, roots)
    again = _ensure(constraints, tmp_path, roots, force=True)
    assert again.built and len(fake_build) == 2


def test_a_lock_is_read_checked_and_changes_the_key(tmp_path, fake_build, roots, constraints):
    lock = tmp_path / "keystone.txt"
    write_lock(lock, {"keystone": "25.0.0", "pymysql": "1.1.0"}, {})
    unlocked = _ensure(constraints, tmp_path, roots)
    locked = _ensure(constraints, tmp_path, roots, lock)
    assert locked.key != unlocked.key
    assert fake_build[-1] == ("keystone", "25.0.0", lock)
    with pytest.raises(LockError, match=r"pins keystone 25\.0\.0"):
        _ensure(constraints, tmp_path, roots, lock, "26.0.0")
    assert len(fake_build) == 2


def test_a_failed_build_leaves_nothing_half_made(tmp_path, monkeypatch, roots, constraints):
    def dies(self, work, uv_cache, index_url, say):
        (work / "entry").mkdir()
        (work / "entry" / "keystone-25.0.0.squashfs").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(_Build, "run", dies)
    with pytest.raises(KeyboardInterrupt):
        _ensure(constraints, tmp_path, roots)
    left = sorted(p.name for p in (tmp_path / "artifacts").iterdir())
    assert len(left) == 1 and left[0].endswith(".lock"), left


def test_a_leftover_of_a_killed_build_is_removed_by_the_next_build(tmp_path, fake_build, roots, constraints):
    key = artifact_key(KEYSTONE, "25.0.0", "2024.1", constraints.read_bytes(), None, "b" * 64)
    leftover = tmp_path / "artifacts" / f"{BUILD_PREFIX}{key}-killed1"
    (leftover / "build" / "upper").mkdir(parents=True)
    _ensure(constraints, tmp_path, roots)
    assert not leftover.exists()


def test_concurrent_callers_build_once(tmp_path, fake_build, roots, constraints):
    results = []

    def call():
        results.append(_ensure(constraints, tmp_path, roots))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(fake_build) == 1
    assert sorted(result.built for result in results) == [False, False, True]
    assert len({result.path for result in results}) == 1


# --- what the real build runs --------------------------------------------------------------------------


def _build_for(tmp_path, lock=None, locked=None):
    builder = Root(tmp_path / "builder", "b" * 64, "p 1")
    return _Build(KEYSTONE, "25.0.0", "2024.1", tmp_path / "uc.txt", lock, locked, builder, builder, "k")


def test_install_is_explicit_about_index_and_pins(tmp_path):
    argv = _build_for(tmp_path)._install_argv("/opt/openstack/keystone-25.0.0", "https://pypi.org/simple")
    assert argv[:3] == ["/tmp/ffulab/uv", "pip", "install"]
    assert "--no-config" in argv and "--compile-bytecode" in argv
    assert argv[argv.index("--index-url") + 1] == "https://pypi.org/simple"
    assert argv[argv.index("-c") + 1] == "/tmp/ffulab/constraints.txt"
    assert "/tmp/ffulab/ffulab-constraints.txt" in argv
    assert argv[-3:] == ["keystone==25.0.0", "PyMySQL", "gunicorn"]
    locked = _build_for(tmp_path, Path("lock.txt"), Lock({"keystone": "25.0.0"}, {}))
    argv = locked._install_argv("/v", "https://pypi.org/simple")
    assert argv[argv.index("-c") + 1] == "/tmp/ffulab/lock.txt" and argv.count("-c") == 1


def test_a_locked_build_must_install_exactly_the_lock(tmp_path):
    lock = Lock({"keystone": "25.0.0", "pymysql": "1.1.0"}, {})
    checked = _build_for(tmp_path, Path("lock.txt"), lock)
    checked._check_freeze({"keystone": "25.0.0", "pymysql": "1.1.0"})
    with pytest.raises(LockError, match=r"not in the lock \[\('six', '1.16.0'\)\]"):
        checked._check_freeze({"keystone": "25.0.0", "pymysql": "1.1.0", "six": "1.16.0"})
    with pytest.raises(ArtifactError, match=r"the venv has keystone 24\.0\.0"):
        _build_for(tmp_path)._check_freeze({"keystone": "24.0.0"})


def test_chroot_commands_run_in_a_private_throwaway_namespace(tmp_path):
    overlay = Overlay.create(
        tmp_path / "w", [tmp_path / "layer", tmp_path / "root"], {"/var/cache/uv": tmp_path}
    )
    argv = chroot_argv(overlay, ["/usr/bin/python3", "-m", "venv", "/opt/openstack/keystone-25.0.0"])
    assert argv[:8] == [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
        "sh",
    ]
    script = argv[-1]
    assert f"lowerdir={tmp_path}/layer:{tmp_path}/root,upperdir={tmp_path}/w/upper" in script
    assert f"mount --bind {tmp_path} {tmp_path}/w/merged/var/cache/uv" in script
    assert script.endswith(
        f"exec chroot {tmp_path}/w/merged /usr/bin/python3 -m venv /opt/openstack/keystone-25.0.0"
    )


def test_overlay_refuses_paths_that_would_break_its_options(tmp_path):
    with pytest.raises(ArtifactError, match="not usable in overlay options"):
        Overlay.create(tmp_path / "w", [tmp_path / "a:b"])


def test_the_chroot_environment_leaves_the_hosts_pip_and_uv_settings_behind(monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    monkeypatch.setenv("UV_INDEX_URL", "http://elsewhere/simple")
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    env = clean_env({"UV_CACHE_DIR": "/var/cache/ffulab-uv"})
    assert "PIP_FIND_LINKS" not in env and "UV_INDEX_URL" not in env
    assert env["https_proxy"] == "http://proxy:3128"
    assert env["UV_CACHE_DIR"] == "/var/cache/ffulab-uv" and env["HOME"] == "/root"


def test_find_uv_prefers_ffulab_uv(monkeypatch, tmp_path):
    monkeypatch.setenv("FFULAB_UV", str(tmp_path / "uv"))
    assert build.find_uv() == tmp_path / "uv"


def test_a_tmpfs_overlay_mounts_the_tmpfs_then_prepares_then_mounts_the_overlay(tmp_path):
    overlay = Overlay.create(tmp_path / "w", [tmp_path / "w" / "layer", tmp_path / "root"], tmpfs=True)
    script = overlay.mount_script(prepare="tar -xf archive")
    tmpfs = script.index(f"mount -t tmpfs -o mode=0755 ffulab-tmpfs {tmp_path}/w")
    assert tmpfs < script.index("tar -xf archive") < script.index("mount -t overlay")


def test_build_steps_are_timed_by_markers_and_uv_noise_is_dropped():
    said = []
    steps = build._Steps("keystone 25.0.0 (2024.1)", said.append, {"install": "uv pip install keystone"})
    for line in [
        f"{build.STEP_MARKER}install",
        "Resolved 101 packages in 2.96s",
        " + keystone==25.0.0",
        f"{build.STEP_MARKER}archive",
    ]:
        steps.on_line(line)
    seconds = steps.finish()
    assert list(seconds) == ["mount", "install", "archive"]
    assert said == [
        "keystone 25.0.0 (2024.1): uv pip install keystone",
        "keystone 25.0.0 (2024.1): Resolved 101 packages in 2.96s",
        "keystone 25.0.0 (2024.1): archive",
    ]
    assert steps.current == "archive"


def test_an_artifact_with_build_packages_is_built_in_its_own_builder_root(
    tmp_path, fake_build, roots, constraints, monkeypatch
):
    asked = []
    own = Root(tmp_path / "builder-libvirt", "l" * 64, "python3.11-minimal 3.11.2-6")

    def fake_root(recipe, cache_dir, say):
        asked.append(recipe)
        return own

    monkeypatch.setattr(build, "ensure_root", fake_root)
    plain = _ensure(constraints, tmp_path, roots)
    assert asked == [], "the shared builder serves an artifact without build packages"
    spec = dataclasses.replace(KEYSTONE, build_packages=("libvirt-dev", "pkg-config"))
    special = ensure_artifact(spec, "25.0.0", "2024.1", constraints, None, cache_dir=tmp_path, **roots)
    assert [r.kind for r in asked] == ["builder"]
    assert {"libvirt-dev", "pkg-config", "gcc", "python3-dev"} <= set(asked[0].packages)
    assert special.key != plain.key and special.built, "another builder root is another artifact"
