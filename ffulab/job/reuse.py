"""``ffulab job run --reuse``: a deployed lab kept between runs of the same job, as a warm start.

A job run with ``--reuse`` does not destroy its lab: it powers the nodes off (the ``overcloud-deployed``
snapshot keeps their memory) and records a key, the sha256 of everything that made that deployed lab:
the resolved config (files, overrides, values), the roles and playbooks, the package itself and the
virthost. The next ``--reuse`` run of the job in the same workspace with the same key reverts the lab to
``overcloud-deployed`` (seconds) and runs the pipeline from ``resources`` on; any other key means the lab
is stale: it is destroyed and the job starts fresh. ``ffulab destroy`` removes a kept lab as any other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ffulab.config.resolve import Resolved
from ffulab.paths import data_root
from ffulab.state import State

SNAPSHOT = "overcloud-deployed"
FIRST_PHASE = "resources"
"""Where a reused lab's pipeline resumes: the phases before it made what the snapshot holds."""
TREES = ("roles", "playbooks", "ffulab")


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def reuse_key(resolved: Resolved, virthost: str | None) -> str:
    """The sha256 of what made the deployed lab: config, roles, playbooks, the package, the virthost."""
    root = data_root()
    document = {
        "config": resolved.to_dict(),
        "trees": {name: _tree_digest(root / name) for name in TREES},
        "virthost": virthost or resolved.config.settings.virthost,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def reusable(state: State, key: str) -> bool:
    """The lab was kept by a run with this very key and still has its deployed snapshot."""
    kept = state.data.reuse or {}
    names = {record["name"] for record in state.data.snapshots if record.get("status") == "complete"}
    return kept.get("key") == key and SNAPSHOT in names
