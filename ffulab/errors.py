"""Every error a user can meet, with the exit code it maps to.

Messages are decided here, in one place (virtualbmc's ``exception.py`` pattern);
the CLI prints ``str(error)`` and exits with ``error.exit_code``: 2 for bad usage
or configuration (nothing created), 1 for a phase, step or check that failed.
"""

from __future__ import annotations


class FfulabError(Exception):
    """Base class: a message for the user and an exit code."""

    exit_code = 1


class UsageError(FfulabError):
    """Bad flags or arguments on the command line."""

    exit_code = 2


class ConfigError(FfulabError):
    """A configuration file or override is invalid; names file and key."""

    exit_code = 2

    def __init__(self, source: str, key: str | None, problem: str, hint: str | None = None):
        self.source, self.key, self.problem, self.hint = source, key, problem, hint
        where = f"{source}: {key}" if key else source
        message = f"{where}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class ProblemError(FfulabError):
    """``<subject>: <problem>``, then an optional hint line; ``subject`` names what failed.

    Each subclass decides how its subject reads (``image build``, ``snapshot 'before-ffu'``).
    """

    subject = "{what}"
    hint_line = "\n  hint: {hint}"

    def __init__(self, what: str, problem: str, hint: str | None = None):
        self.what, self.problem, self.hint = what, problem, hint
        message = f"{self.subject.format(what=what)}: {problem}"
        if hint:
            message += self.hint_line.format(hint=hint)
        super().__init__(message)


class VirthostError(FfulabError):
    """The virthost cannot do what a lab needs (missing package, daemon down...)."""


class PhaseError(ProblemError):
    """A pipeline phase failed; logs are kept in the workspace."""

    subject = "phase '{what}' failed"
    hint_line = "\nrerun with: {hint}"

    def __init__(self, phase: str, problem: str, rerun: str | None = None):
        super().__init__(phase, problem, rerun)
        self.phase, self.rerun = phase, rerun


class CacheError(ProblemError):
    """An entry of the content-addressed cache (image, artifact, build root) could not be handled."""

    subject = "cache {what}"


class ImageError(ProblemError):
    """The base image could not be built or booted; ``what`` is the step."""

    subject = "image {what}"


class ArtifactError(ProblemError):
    """A service artifact (venv archive) or its build root could not be made or checked."""

    subject = "artifact {what}"


class LockError(ArtifactError):
    """A lock file under release-configs/locks/ is malformed or does not fit the config."""

    def __init__(self, path: str, problem: str, hint: str | None = "regenerate it with `ffulab lock`"):
        super().__init__(path, problem, hint)


class SnapshotError(ProblemError):
    """A lab snapshot could not be taken, reverted to or deleted; the message says what was left."""

    subject = "snapshot '{what}'"


class NoSuchSnapshot(SnapshotError):
    """The lab has no snapshot of that name (bad usage: nothing was changed)."""

    exit_code = 2

    def __init__(self, name: str, known: list[str]):
        super().__init__(name, f"no such snapshot in this lab; snapshots: {', '.join(known) or 'none'}")


class BadSnapshotName(SnapshotError):
    """A snapshot name with characters libvirt and file names do not take (bad usage)."""

    exit_code = 2

    def __init__(self, name: str, pattern: str):
        super().__init__(name, f"a snapshot name is letters, digits, '.', '_' and '-' ({pattern})")
