"""Every error a user can meet, with the exit code it maps to.

Messages are decided here, in one place (virtualbmc's ``exception.py`` pattern);
the CLI prints ``str(error)`` and exits with ``error.exit_code``: 2 for bad usage
or configuration (nothing created), 1 for a phase, step or check that failed.
"""


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


class VirthostError(FfulabError):
    """The virthost cannot do what a lab needs (missing package, daemon down...)."""


class PhaseError(FfulabError):
    """A pipeline phase failed; logs are kept in the workspace."""

    def __init__(self, phase: str, problem: str, rerun: str | None = None):
        self.phase, self.problem, self.rerun = phase, problem, rerun
        message = f"phase '{phase}' failed: {problem}"
        if rerun:
            message += f"\nrerun with: {rerun}"
        super().__init__(message)


class NotImplementedPhase(FfulabError):
    """A phase of the pipeline that this version of ffulab does not provide yet."""

    def __init__(self, phase: str):
        self.phase = phase
        super().__init__(
            f"phase '{phase}' is not implemented yet in this version of ffulab; "
            f"run the phases before it with --tags, or skip it with --skip-tags {phase}"
        )
