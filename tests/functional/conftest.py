"""Functional tier: the real ``ffulab`` command against real TCG VMs on the sandbox virthost."""

from __future__ import annotations

import os

import pytest
from tier_prerequisites import require

TOOLS = (
    "mmdebstrap", "unshare", "chroot", "tar", "zstd",  # test_artifacts.py
    "mkfs.ext4", "qemu-img", "qemu-system-x86_64", "ssh", "ssh-keygen",  # test_image.py, the labs
    "socat", "ip",  # the sandbox virthost
    "sshd", "unshare", "setsid",  # test_remote.py: the ssh virthost's remote host
)  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """Asked for (CI, tox -e functional), the tier fails here when root or a tool is missing."""
    require("functional", TOOLS)


@pytest.fixture(scope="session", autouse=True)
def root_only():
    if os.geteuid() != 0:
        pytest.skip("the functional tier needs root (sandbox virthost)")
