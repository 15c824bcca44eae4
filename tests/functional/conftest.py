"""Functional tier: the real ``ffulab`` command against real TCG VMs on the sandbox virthost."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def root_only():
    if os.geteuid() != 0:
        pytest.skip("the functional tier needs root (sandbox virthost)")
