"""The sandbox is shared: it stays while any lab registered on it still exists."""


def test_a_registered_lab_keeps_the_sandbox_until_it_leaves(tmp_path, monkeypatch):
    from ffulab.virthost import sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "USERS_DIR", tmp_path / "labs")
    host = sandbox_module.Sandbox()
    first, second, gone = tmp_path / "first", tmp_path / "second", tmp_path / "gone"
    for workspace in (first, second, gone):
        workspace.mkdir()
        (workspace / "state.json").write_text("{}")
        host.register(workspace)
    (gone / "state.json").unlink()  # a lab whose workspace is gone no longer counts
    assert sorted(host.users()) == [first, second]
    kept = host.teardown_if_unused(leaving=first)
    assert kept == [f"sandbox kept: lab(s) {second} use it"]
    assert host.users() == [second]
