"""Per-lab generated credentials (BMC, service passwords, keys), kept in one 0600 file, and their
redaction by value: whatever a secret is called, wherever it ends up (a log line, a JUnit file, a
Tempest log, the summary), it is replaced before anything is written for people or CI.

Generated on first use and never printed or logged; other modules ask for a secret by name and pass
it on without echoing it. virtualbmc's ``mask_dict_password`` masks by key name; ffulab masks by value
too, so a new secret is masked whatever its name.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as random
import string
from collections.abc import Callable, Sequence
from pathlib import Path

SECRETS_FILE = "secrets.json"
ALPHABET = string.ascii_letters + string.digits
"""Letters and digits only: safe on any command line, in any config file, never read as an option."""


def lab_secret(
    workspace: Path, name: str, length: int = 24, generate: Callable[[], str] | None = None
) -> str:
    """The lab's secret ``name``, created the first time it is asked for: random letters and digits,
    ``length`` characters, or whatever ``generate()`` returns (e.g. a Fernet key)."""
    path = workspace / SECRETS_FILE
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in values:
        values[name] = generate() if generate else "".join(random.choice(ALPHABET) for _ in range(length))
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        os.replace(path.with_suffix(".tmp"), path)
    os.chmod(path, 0o600)
    return values[name]


KEY_FILE = "id_ed25519"
"""The lab's SSH private key (ffulab.provision.access makes it): its text is a secret too."""
MASK = "********"
MIN_KEY_LINE = 16


def secret_values(workspace: Path) -> list[str]:
    """Every secret the lab has generated so far, and each line of its private key: what artifacts and
    logs must never show. Longest first, so a secret holding a shorter one is masked whole."""
    path = workspace / SECRETS_FILE
    values = list(json.loads(path.read_text()).values()) if path.exists() else []
    key = workspace / KEY_FILE
    if key.is_file():
        values += [
            line
            for line in key.read_text().splitlines()
            if len(line) >= MIN_KEY_LINE and "PRIVATE" not in line
        ]
    return sorted({value for value in values if value}, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    """Hide every secret in ``text`` before it reaches a log, an error, a screen or an artifact."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def redact_tree(root: Path, secrets: Sequence[str]) -> int:
    """Replace every secret in every file under ``root``, other bytes kept as they are; return the
    number of files changed. Run over every directory ffulab writes for people or CI."""
    if not secrets or not root.is_dir():
        return 0
    changed = 0
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        clean = redact(text, secrets)
        if clean != text:
            path.write_bytes(clean.encode("utf-8", "surrogateescape"))
            changed += 1
    return changed


class SecretFilter(logging.Filter):
    """A log handler's filter: every secret of the lab masked in every record, by value (secrets.json
    and the private key, re-read when they change) and by key name in dict arguments (virtualbmc's
    ``mask_dict_password``)."""

    def __init__(self, workspace: Path):
        super().__init__()
        self.workspace = workspace
        self._seen: tuple[float, float] | None = None
        self._secrets: list[str] = []

    def _current(self) -> list[str]:
        stamps = tuple(
            (self.workspace / name).stat().st_mtime if (self.workspace / name).exists() else 0.0
            for name in (SECRETS_FILE, KEY_FILE)
        )
        if stamps != self._seen:
            self._seen, self._secrets = stamps, secret_values(self.workspace)  # type: ignore[assignment]
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = mask_dict_password(record.args)
        message = redact(record.getMessage(), self._current())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        record.msg, record.args = message, None
        return True


def mask_dict_password(values: dict, mask: str = MASK) -> dict:
    """A copy of ``values`` with every value whose key names a password or secret masked (virtualbmc's
    ``utils.mask_dict_password``), nested dicts too."""
    return {
        key: mask_dict_password(value, mask) if isinstance(value, dict)
        else mask if any(word in str(key).lower() for word in ("password", "secret", "token")) else value
        for key, value in values.items()
    }  # fmt: skip
