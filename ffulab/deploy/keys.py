"""Keystone's Fernet and credential key repositories, generated centrally on the virthost.

``keystone-manage fernet_setup`` and ``credential_setup`` each cost ~50 s of Python start-up in a
TCG guest (DESIGN.md) for what is 32 random bytes per key. TripleO generated them on the
undercloud; ffulab generates them once per lab, keeps them with the lab's other secrets (0600) and
hands the same repository to every controller, which multi-controller keystone needs anyway.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ffulab.secrets import lab_secret

REPOSITORIES = ("fernet", "credential")
KEYS_PER_REPOSITORY = 2
"""What ``fernet_setup`` leaves: key ``0`` (staged, the next primary) and key ``1`` (primary)."""


def fernet_key() -> str:
    """A Fernet key as ``cryptography.fernet.Fernet.generate_key()`` makes it: urlsafe base64 of 32 bytes."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32 and len(text) == 44
    except (ValueError, UnicodeEncodeError):
        return False


def key_repository(workspace: Path, repository: str) -> dict[str, str]:
    """The lab's keys of ``repository`` (fernet or credential): file name (``0``, ``1``) -> key.

    Generated the first time, then the same on every call, so a redeploy changes nothing.
    """
    if repository not in REPOSITORIES:
        raise ValueError(f"unknown key repository {repository!r}; expected one of {REPOSITORIES}")
    return {
        str(index): lab_secret(workspace, f"keystone_{repository}_key_{index}", generate=fernet_key)
        for index in range(KEYS_PER_REPOSITORY)
    }
