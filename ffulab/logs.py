"""Every command that changes a lab holds it (one at a time) and leaves a log there to read afterwards."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ffulab.lablock import hold
from ffulab.secrets import SecretFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def start_log(workspace: Path, command: str) -> Path:
    """Hold the lab, then send DEBUG and up to ``WS/logs/<time>-<command>.log`` (and ``latest.log``),
    every secret of the lab masked (:class:`ffulab.secrets.SecretFilter`)."""
    hold(workspace, command)
    logs = workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretFilter(workspace))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    latest = logs / "latest.log"
    latest.unlink(missing_ok=True)
    latest.symlink_to(path.name)
    return path
