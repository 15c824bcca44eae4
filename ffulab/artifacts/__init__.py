"""Per-release service artifacts: prebuilt venv archives made on the virthost for the guest's Python.

The undercloud serves them (the "container images" of this lab); a guest unpacks one and runs it.
See build.py for one artifact, release.py for a lab's set and ``ffulab lock``, lock.py for the lock
files under release-configs/locks/, roots.py for the Debian trees they are built and checked in.
"""

from ffulab.artifacts.build import Artifact, ArtifactSpec, ensure_artifact
from ffulab.artifacts.lock import read_lock, write_lock
from ffulab.artifacts.release import (
    ArtifactRequest,
    ensure_release_artifacts,
    lock_release,
    mirror_index,
    plan_artifacts,
)
from ffulab.artifacts.roots import Root, builder_recipe, ensure_root, root_from_tree, runtime_recipe
from ffulab.errors import ArtifactError, LockError

__all__ = [
    "Artifact",
    "ArtifactError",
    "ArtifactRequest",
    "ArtifactSpec",
    "LockError",
    "Root",
    "builder_recipe",
    "ensure_artifact",
    "ensure_release_artifacts",
    "ensure_root",
    "lock_release",
    "mirror_index",
    "plan_artifacts",
    "read_lock",
    "root_from_tree",
    "runtime_recipe",
    "write_lock",
]
