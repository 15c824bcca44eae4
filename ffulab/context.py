"""What every phase gets: the resolved config, the lab's state and workspace, the run's options.

Its own module so that phases, the pipeline, snapshots and commands can all name it without
importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffulab.config.resolve import Resolved
from ffulab.state import State

ARTIFACTS_DIR = "artifacts"
BACKUPS_DIR = "backups"
"""``WS/backups/<release>/<node>/``: FFU step 4's database dumps (credentials, password hashes), 0700.
They stay with the lab; the artifacts get a copy only if a job sets settings.artifacts.publish_backups."""


@dataclass
class Context:
    """One run of (some of) the pipeline on one lab."""

    resolved: Resolved
    state: State
    workspace: Path
    options: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda line: None
    phases: list[str] = field(default_factory=list)
    """The phases this run runs, in order (a phase may leave work to a later one of them)."""


def artifacts_dir(ctx: Context) -> Path:
    """Where a run's artifacts go: ``--artifacts DIR`` of ``ffulab job run``, else the workspace's."""
    return Path(ctx.options.get("artifacts") or ctx.workspace / ARTIFACTS_DIR).resolve()
