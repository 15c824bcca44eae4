"""The errors of the artifact builds, each message decided here."""

from __future__ import annotations

from ffulab.errors import FfulabError


class ArtifactError(FfulabError):
    """A service artifact (venv archive) or its build root could not be made or checked."""

    def __init__(self, what: str, problem: str, hint: str | None = None):
        self.what, self.problem, self.hint = what, problem, hint
        message = f"artifact {what}: {problem}"
        if hint:
            message += f"\n  hint: {hint}"
        super().__init__(message)


class LockError(ArtifactError):
    """A lock file under release-configs/locks/ is malformed or does not fit the config."""

    def __init__(self, path: str, problem: str, hint: str | None = "regenerate it with `ffulab lock`"):
        super().__init__(path, problem, hint)
