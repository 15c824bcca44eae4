"""The pipeline, written once as data (molecule keeps its sequences the same way).

Each phase is the module of its name in this package, with ``run(ctx: Context) -> None``; a phase
with ``snapshot`` is followed by that automatic lab snapshot (``settings.snapshots.auto``), which
drops the one it ``supersedes`` unless ``settings.snapshots.keep_superseded``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ffulab.context import Context


@dataclass(frozen=True)
class Phase:
    name: str
    summary: str
    snapshot: str | None = None
    """The automatic snapshot taken once the phase is done."""
    supersedes: str | None = None
    """An earlier phase's automatic snapshot that goes once ``snapshot`` is taken (disk is the cost)."""

    def runner(self) -> Callable[[Context], None]:
        """``run`` of ``ffulab.phases.<name>``."""
        return importlib.import_module(f"{__name__}.{self.name}").run


PHASES: tuple[Phase, ...] = (
    Phase("config", "merge release < lab < nodes < job < -e, validate; nothing is created"),
    Phase("virthost", "connect to libvirt (sandbox: netns + libvirtd), probe the virt type (KVM or TCG)"),
    Phase("image", "build or reuse the cached guest image (mmdebstrap -> qcow2, direct kernel boot)"),
    Phase("provision", "lab networks, linked-clone overlays, domains; undercloud started, overcloud off"),
    Phase("bmc", "one vbmc daemon for the lab on its external bridge; instackenv.json"),
    Phase(
        "undercloud",
        "release mirror of the lab's artifacts on the ctlplane; chrony; openstackclient",
        snapshot="undercloud-ready",
    ),
    Phase(
        "overcloud",
        "deploy the lab's services at release N with Ansible; snapshot overcloud-deployed",
        snapshot="overcloud-deployed",
        supersedes="undercloud-ready",
    ),
    Phase("resources", "create the data that must survive the upgrade (grenade-style)"),
    Phase("baseline", "Tempest and per-service checks at N: what the report compares after the FFU"),
    Phase("update", "the minor update at N: older point releases to N's, one node at a time (if any)"),
    Phase("ffu", "every intermediate release x steps 1-9, then the final deploy at N+3; resources verified"),
    Phase("validate", "Tempest and per-service checks at N+3; JUnit", snapshot="validated"),
    Phase("report", "artifacts: junit.xml, logs, summary.json, report.html"),
)

PHASE_NAMES: tuple[str, ...] = tuple(phase.name for phase in PHASES)
BY_NAME: dict[str, Phase] = {phase.name: phase for phase in PHASES}


def select(tags: list[str] | None, skip_tags: list[str] | None) -> list[str]:
    """The phases to run, in pipeline order; unknown names raise ValueError naming them."""
    unknown = [name for name in (tags or []) + (skip_tags or []) if name not in PHASE_NAMES]
    if unknown:
        raise ValueError(", ".join(unknown))
    chosen = [name for name in PHASE_NAMES if not tags or name in tags]
    return [name for name in chosen if name not in (skip_tags or [])]
