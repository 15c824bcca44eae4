"""A lab's artifacts (services x FFU chain + the undercloud's client), ffulab lock, and the root trees."""

import json
from pathlib import Path

import pytest

from ffulab import cache
from ffulab.artifacts import build, release, roots
from ffulab.artifacts.build import Artifact
from ffulab.artifacts.lock import read_lock, write_lock
from ffulab.artifacts.release import ensure_release_artifacts, lock_release, mirror_index, plan_artifacts
from ffulab.artifacts.roots import Root, builder_recipe, dpkg_versions, root_from_tree, runtime_recipe
from ffulab.config.resolve import resolve
from ffulab.errors import ArtifactError


def _plan(requests):
    return [(r.name, r.version, r.series) for r in requests]


def test_the_default_job_needs_keystone_over_the_chain_and_the_undercloud_client(data_root):
    resolved = resolve()
    assert _plan(plan_artifacts(resolved, data_root)) == [
        ("keystone", "25.0.0", "2024.1"),
        ("keystone", "26.1.1", "2024.2"),
        ("keystone", "27.1.0", "2025.1"),
        ("keystone", "28.1.0", "2025.2"),
        ("openstackclient", "10.2.1", "2026.2"),  # from upper-constraints-2026.2
    ]
    first = plan_artifacts(resolved, data_root)[0]
    assert first.project == "keystone"
    assert first.constraints == data_root / "release-configs/constraints/upper-constraints-2024.1.txt"
    assert first.lock == data_root / "release-configs/locks/2024.1/keystone.txt"


def test_the_plan_takes_a_plain_dict_or_a_model_too(data_root):
    resolved = resolve()
    as_dict = resolved.config.model_dump(mode="json")
    assert _plan(plan_artifacts(as_dict, data_root)) == _plan(plan_artifacts(resolved.config, data_root))


def test_a_minimal_lab_needs_only_the_client(data_root):
    resolved = resolve(job="ffu-minimal")
    assert _plan(plan_artifacts(resolved, data_root)) == [("openstackclient", "10.2.1", "2026.2")]


def test_the_plan_narrows_to_services_and_series(data_root):
    resolved = resolve()
    assert _plan(plan_artifacts(resolved, data_root, ["2023.1", "2026.2"], ["keystone"])) == [
        ("keystone", "23.0.2", "2023.1"),
        ("keystone", "30.0.0", "2026.2"),
    ]


def test_a_series_without_a_service_version_names_the_key(data_root):
    config = resolve().config.model_dump(mode="json")  # resolve() itself refuses this; a dict does not
    config["series"]["2024.2"]["services"] = {}
    with pytest.raises(ArtifactError, match=r"series\.2024\.2\.services\.keystone is not set"):
        plan_artifacts(config, data_root)


@pytest.fixture
def fake_ensure(monkeypatch, tmp_path):
    """ensure_artifact replaced by one that records its calls and returns an artifact with a manifest."""
    calls = []

    def ensure(spec, version, series, constraints, lock, progress=None, **options):
        name, project = spec.name, spec.project
        calls.append({"name": name, "project": project, "version": version, "series": series, "lock": lock})
        entry = tmp_path / "cache" / f"{name}-{series}"
        entry.mkdir(parents=True, exist_ok=True)
        manifest = {
            "freeze": [f"{project}=={version}", "pymysql==1.1.0", "gunicorn==23.0.0"],
            "constraints": {"sha256": "c" * 64},
            "builder": {"python": "python3.11-minimal 3.11.2-6+deb12u8"},
        }
        (entry / "manifest.json").write_text(json.dumps(manifest))
        venv = build.venv_path(spec, version)
        return Artifact(name, version, series, entry / "a.tar.zst", "k", venv, True, 0.1, "s", 1)

    monkeypatch.setattr(release, "ensure_artifact", ensure)
    fake_root = Root(tmp_path, "d" * 64, "python3.11-minimal 3.11.2-6+deb12u8")
    monkeypatch.setattr(release, "ensure_root", lambda recipe, cache_dir, say: fake_root)
    return calls


def test_release_artifacts_use_the_shipped_lock_when_there_is_one(data_root, fake_ensure):
    lock = data_root / "release-configs/locks/2024.2/keystone.txt"
    write_lock(lock, {"keystone": "26.1.1"}, {})
    (data_root / "release-configs/locks/2024.1/keystone.txt").unlink(missing_ok=True)
    artifacts = ensure_release_artifacts(resolve(), print)
    assert [a.series for a in artifacts] == ["2024.1", "2024.2", "2025.1", "2025.2", "2026.2"]
    by_series = {call["series"]: call for call in fake_ensure}
    assert by_series["2024.2"]["lock"] == lock
    assert by_series["2024.1"]["lock"] is None
    assert by_series["2026.2"]["project"] == "python-openstackclient"


def test_lock_release_writes_one_lock_per_artifact_from_an_unlocked_build(data_root, fake_ensure):
    said = []
    paths = lock_release(resolve(), said.append, series=["2024.1", "2026.2"])
    assert paths == [
        data_root / "release-configs/locks/2024.1/keystone.txt",
        data_root / "release-configs/locks/2026.2/keystone.txt",
        data_root / "release-configs/locks/2026.2/openstackclient.txt",
    ]
    assert all(call["lock"] is None for call in fake_ensure), "a lock is made from the constraints alone"
    lock = read_lock(paths[0])
    assert lock.pins == {"keystone": "25.0.0", "pymysql": "1.1.0", "gunicorn": "23.0.0"}
    assert lock.header["series"] == "2024.1"
    assert lock.header["constraints"] == "upper-constraints-2024.1.txt"
    assert lock.header["python"] == "python3.11"
    assert read_lock(paths[2]).version_of("python-openstackclient") == "10.2.1"
    assert any("release-configs/locks/2024.1/keystone.txt: written" in line for line in said)
    lock_release(resolve(), said.append, series=["2024.1"], services=["keystone"])
    assert said[-1].endswith("unchanged (3 packages)")


def test_lock_release_with_nothing_to_lock_says_so(data_root, fake_ensure):
    with pytest.raises(ArtifactError, match="nothing to lock"):
        lock_release(resolve(), services=["glance"])


# --- roots -----------------------------------------------------------------------------------------


def _fake_tree(tree: Path, python_version: str = "3.11.2-6+deb12u8") -> Path:
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "usr/bin/python3").symlink_to("python3.11")
    (tree / "var/lib/dpkg").mkdir(parents=True)
    (tree / "var/lib/dpkg/status").write_text(
        "Package: python3.11-minimal\nStatus: install ok installed\nVersion: "
        f"{python_version}\nDescription: Minimal subset\n of the Python language\n\n"
        "Package: gcc\nStatus: deinstall ok config-files\nVersion: 4:12.2.0-3\n"
    )
    return tree


def test_a_root_tree_is_described_by_its_python_and_a_digest_of_its_packages(tmp_path):
    root = root_from_tree(_fake_tree(tmp_path / "a"))
    assert root.python == "python3.11-minimal 3.11.2-6+deb12u8"
    assert dpkg_versions(root.tree) == {"python3.11-minimal": "3.11.2-6+deb12u8"}  # gcc is not installed
    other = root_from_tree(_fake_tree(tmp_path / "b", "3.11.2-6+deb12u6"))
    assert other.digest != root.digest


def test_a_tree_without_python_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="not a Debian root tree"):
        root_from_tree(tmp_path)


def test_build_packages_go_into_the_builder_root_only():
    builder, runtime = (
        builder_recipe("bookworm", "http://m/debian"),
        runtime_recipe("bookworm", "http://m/debian"),
    )
    assert set(runtime.packages) == {"python3", "python3-venv"}
    assert {"gcc", "python3-dev", "libssl-dev"} <= set(builder.packages)
    assert set(runtime.packages) < set(builder.packages)
    assert builder.digest() != runtime.digest()
    assert builder_recipe("bookworm", "http://other/debian").digest() != builder.digest()


def test_a_root_is_built_only_when_missing(tmp_path, monkeypatch):
    built = []

    def fake_build(recipe, roots_dir, digest, say):
        with cache.building(roots_dir, digest) as work:
            entry = work / "entry"
            _fake_tree(entry / roots.TREE)
            (entry / "manifest.json").write_text("{}")
            cache.publish(entry, roots_dir, digest)
        built.append(digest)

    monkeypatch.setattr(roots, "_build_root", fake_build)
    recipe = runtime_recipe("bookworm", "http://m/debian")
    first = roots.ensure_root(recipe, tmp_path)
    second = roots.ensure_root(recipe, tmp_path)
    assert first.built and not second.built and len(built) == 1
    assert first.tree == tmp_path / "roots" / recipe.digest() / "tree"


def test_the_mirror_index_lists_each_file_under_its_series(tmp_path):
    artifact = Artifact(
        "keystone", "25.0.0", "2024.1", tmp_path / "k" / "keystone-25.0.0.tar.zst", "key",
        "/opt/openstack/keystone-25.0.0", False, 0.0, "ab" * 32, 123,
    )  # fmt: skip
    assert mirror_index([artifact]) == {
        "artifacts": [
            {
                "name": "keystone",
                "version": "25.0.0",
                "series": "2024.1",
                "file": "2024.1/keystone-25.0.0.tar.zst",
                "sha256": "ab" * 32,
                "size": 123,
                "venv": "/opt/openstack/keystone-25.0.0",
            }
        ]
    }
