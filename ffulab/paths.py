"""Where ffulab finds its data and keeps its caches and workspaces."""

from __future__ import annotations

import os
from pathlib import Path

from ffulab.errors import UsageError

DATA_ENV = "FFULAB_DATA_DIR"


def data_root() -> Path:
    """The directory holding release-configs/, labs/, nodes/, jobs/, roles/ and playbooks/.

    ``$FFULAB_DATA_DIR`` wins; otherwise the checkout the package was installed from.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).resolve()
    return Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    """The user's ffulab cache (images, wheels, venv archives), keyed by content hashes below it."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ffulab"


def default_workspace(lab_name: str) -> Path:
    """``~/.ffulab/<lab-name>``, as DESIGN.md promises."""
    return Path.home() / ".ffulab" / lab_name


def directory(path: Path, what: str) -> Path:
    """``path`` made absolute, or a UsageError naming it when it, or the nearest of its parents that
    exists, is not a directory (a file given to ``-w`` or ``--zuul``): checked before anything is made."""
    path = path.expanduser().resolve()
    for existing in (path, *path.parents):
        if existing.exists():
            if existing.is_dir():
                return path
            problem = (
                "is not a directory" if existing == path else f"is below {existing}, which is not a directory"
            )
            raise UsageError(f"{path} {problem}: {what} is a directory")
    return path


def workspace_dir(path: Path) -> Path:
    """The lab workspace at ``path`` (``-w``, ``~/.ffulab/<lab>`` or the last run's), absolute; every
    command finds its workspace through here, so a file given as one is refused in one place."""
    return directory(path, "a lab workspace (-w)")


def lab_workspace(given: Path | None) -> Path:
    """``-w`` or the lab of the last ``ffulab run`` (``~/.ffulab/current``), for the commands on a lab."""
    if given:
        return workspace_dir(given)
    current = current_workspace()
    if current is None:
        raise UsageError("no lab given and no 'ffulab run' yet: pass -w WORKSPACE")
    return workspace_dir(current)


def _current_link() -> Path:
    return Path.home() / ".ffulab" / "current"


def remember_workspace(workspace: Path) -> None:
    """Point ``~/.ffulab/current`` at the lab just run, so later commands need no ``-w``."""
    link = _current_link()
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(".current.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(workspace)
    tmp.replace(link)


def current_workspace() -> Path | None:
    link = _current_link()
    return link.resolve() if link.is_symlink() else None
