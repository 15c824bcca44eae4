"""The artifact cache: where it lives and when an entry is complete (locking is ffulab.cache's)."""

from ffulab import cache as entries
from ffulab.artifacts import cache


def test_publish_appears_by_rename_and_replaces_an_incomplete_leftover(tmp_path):
    leftover = tmp_path / "k1"
    leftover.mkdir()
    (leftover / "junk").write_text("from a hand-damaged entry")
    assert not cache.is_complete(leftover)
    with entries.building(tmp_path, "k1") as work:
        ready = work / "entry"
        ready.mkdir()
        (ready / cache.MANIFEST).write_text("{}")
        final = entries.publish(ready, tmp_path, "k1")
    assert final == tmp_path / "k1"
    assert cache.is_complete(final)
    assert not (final / "junk").exists()
    assert not list(tmp_path.glob(f"{entries.BUILD_PREFIX}*"))


def test_default_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.default_cache() == tmp_path / "ffulab"
