"""Every command that touches a lab leaves a log in the workspace to read afterwards."""

from __future__ import annotations

import logging
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def start_log(workspace: Path, command: str) -> Path:
    """Send DEBUG and up to ``WS/logs/<time>-<command>.log`` (and ``latest.log``) for this process."""
    logs = workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    latest = logs / "latest.log"
    latest.unlink(missing_ok=True)
    latest.symlink_to(path.name)
    return path
