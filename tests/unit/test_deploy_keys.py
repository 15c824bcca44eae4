"""Keystone's key repositories, generated on the virthost instead of fernet_setup/credential_setup."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from ffulab.deploy.keys import KEYS_PER_REPOSITORY, fernet_key, is_fernet_key, key_repository


def test_a_fernet_key_is_urlsafe_base64_of_32_random_bytes():
    key = fernet_key()
    assert len(key) == 44 and is_fernet_key(key)
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert fernet_key() != key


def test_keystone_can_use_the_keys_as_fernet_keys():
    fernet = pytest.importorskip("cryptography.fernet")
    box = fernet.MultiFernet([fernet.Fernet(fernet_key()), fernet.Fernet(fernet_key())])
    assert box.decrypt(box.encrypt(b"token payload")) == b"token payload"


def test_repositories_hold_keys_0_and_1_like_fernet_setup_leaves_them(tmp_path: Path):
    fernet = key_repository(tmp_path, "fernet")
    credential = key_repository(tmp_path, "credential")
    assert sorted(fernet) == sorted(credential) == [str(i) for i in range(KEYS_PER_REPOSITORY)] == ["0", "1"]
    assert all(is_fernet_key(key) for key in [*fernet.values(), *credential.values()])
    assert len({*fernet.values(), *credential.values()}) == 4, "every key is its own random value"


def test_keys_are_generated_once_and_kept_private(tmp_path: Path):
    first = key_repository(tmp_path, "fernet")
    assert key_repository(tmp_path, "fernet") == first, "a redeploy must get the same keys"
    secrets = tmp_path / "secrets.json"
    assert os.stat(secrets).st_mode & 0o777 == 0o600
    assert set(first.values()) <= set(json.loads(secrets.read_text()).values())


def test_unknown_repository_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="fernet"):
        key_repository(tmp_path, "tokens")


@pytest.mark.parametrize("text", ["", "short", "!" * 44, base64.urlsafe_b64encode(b"x" * 31).decode()])
def test_is_fernet_key_rejects_what_keystone_would(text):
    assert not is_fernet_key(text)
