"""Per-lab generated credentials (BMC, service passwords), kept in one 0600 file.

Generated on first use and never printed or logged; other modules ask for a secret
by name and pass it on without echoing it.
"""

from __future__ import annotations

import json
import os
import secrets as random
import string
from collections.abc import Callable
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


def secret_values(workspace: Path) -> list[str]:
    """Every secret the lab has generated so far: what artifacts and logs must never show."""
    path = workspace / SECRETS_FILE
    return list(json.loads(path.read_text()).values()) if path.exists() else []
