"""Ctrl-C or SIGTERM during a playbook stops ansible-playbook and what it started, then interrupts ffulab.

ansible-runner starts ansible-playbook under a pty, in a session of its own: the signal ffulab gets never
reaches it, and a stopped run used to leave ansible-playbook and an ssh proxy's socat running. Here the
real ansible-runner runs a stand-in ``ansible-playbook`` (a shell that starts a ``sleep`` and waits).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ffulab.deploy import ansible
from ffulab.provision.access import INVENTORY


@pytest.fixture(autouse=True)
def _handlers_like_the_cli():
    """The CLI's handlers, whatever the test runner inherited (a background job ignores SIGINT)."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, signal.default_int_handler) for signum in signals}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(path: Path, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and len(words := path.read_text().split()) == 2:
            return [int(word) for word in words]
        time.sleep(0.1)
    raise AssertionError(f"the stand-in ansible-playbook did not start within {seconds}s")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_playbook_and_its_children_are_stopped(tmp_path, monkeypatch, signum):
    bindir, pids = tmp_path / "bin", tmp_path / "pids"
    bindir.mkdir()
    stand_in = bindir / "ansible-playbook"
    # a child in its group, and one in a session of its own (as Ansible's workers are: one per host)
    stand_in.write_text(
        f"#!/bin/sh\nsleep 300 &\nsetsid sleep 301 &\necho $$ $! > {pids}.tmp && mv {pids}.tmp {pids}\nwait\n"
    )
    stand_in.chmod(0o755)
    monkeypatch.setattr(ansible, "_search_path", lambda: f"{bindir}{os.pathsep}{os.environ['PATH']}")
    workspace = tmp_path / "ws"
    (workspace / INVENTORY).parent.mkdir(parents=True, exist_ok=True)
    (workspace / INVENTORY).write_text("all: {}\n")
    started: list[int] = []

    def interrupt() -> None:
        started.extend(wait_for(pids))
        os.kill(os.getpid(), signum)

    killer = threading.Thread(target=interrupt, daemon=True)
    killer.start()
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            ansible.run_playbook(workspace, "ffu.yml", {}, lambda line: None, label="a step")
        killer.join(5)
        assert len(started) == 2, "the stand-in never started"
        assert time.monotonic() - began < 60
        assert not [pid for pid in started if alive(pid)], "ansible-playbook or its child outlived ffulab"
        assert not list((workspace / ansible.RENDER_DIR).iterdir()), "rendered scripts were left behind"
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
