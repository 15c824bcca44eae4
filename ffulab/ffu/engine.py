"""The FFU engine: walk the chain's positions, run each step's role tasks, keep state after each.

Each position runs ``playbooks/ffu.yml`` with ``release`` and ``step``; the roles' ``tasks/ffu.yml``
act on ``step|int == N and release == R``. Prep steps (1-3) run on every overcloud node, bootstrap
steps (4-9) on one node per role; the final deploy at N+3 runs the deploy playbook on every node.
State is written before and after each position, so a kill leaves a lab that ``ffulab ffu``
resumes at the step that did not finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ffulab.errors import FfulabError, PhaseError
from ffulab.ffu.positions import DONE, PREP_STEPS, Position, is_final, positions, start_index
from ffulab.state import State

RunPlaybook = Callable[[str, dict[str, Any], str | None, str], Any]
"""(playbook, extravars, limit, label) -> result; raises on failure."""


@dataclass
class FfuPlan:
    """What the engine needs from the lab: the chain, the nodes per role, how to run a playbook."""

    chain: list[str]
    role_nodes: dict[str, list[str]]
    extravars: Callable[[str], dict[str, Any]]
    """release -> the variables the roles get at that release."""
    run_playbook: RunPlaybook
    snapshot: Callable[[str], None] = lambda release: None
    """Called when a release is done (automatic ``ffu-<release>`` snapshot)."""
    rerun: str = "ffulab ffu"

    def targets(self, position: Position) -> list[str]:
        """All overcloud nodes for prep steps and the final deploy; one per role for bootstrap steps."""
        _, step = position
        everyone = is_final(self.chain, position) or step in PREP_STEPS
        return [node for nodes in self.role_nodes.values() for node in (nodes if everyone else nodes[:1])]


def _key(position: Position) -> str:
    return f"{position[0]}/{position[1]}"


def run_ffu(
    state: State,
    plan: FfuPlan,
    progress: Callable[[str], None],
    from_release: str | None = None,
    from_step: int | None = None,
) -> dict[str, Any]:
    """Run the FFU from where it stopped (or from ``from_release``/``from_step``); return its state."""
    order = positions(plan.chain)
    ffu = dict(state.get("ffu") or {})
    first = start_index(plan.chain, ffu, from_release, from_step)
    ffu.setdefault("steps", {})
    ffu["chain"] = plan.chain
    for position in order[first:]:
        release, step = position
        final = is_final(plan.chain, position)
        ffu.update({"release": release, "step": step, "status": "running"})
        state.set("ffu", ffu)
        label = f"ffu-{release}-final" if final else f"ffu-{release}-step{step}"
        progress(
            f"{release} {'final deploy' if final else f'step {step}'} on {', '.join(plan.targets(position))}"
        )
        started = time.monotonic()
        extravars = {**plan.extravars(release), "release": release, "step": step}
        try:
            plan.run_playbook(
                "overcloud.yml" if final else "ffu.yml", extravars, ",".join(plan.targets(position)), label
            )
        except FfulabError as exc:
            ffu["steps"][_key(position)] = {
                "status": "failed",
                "seconds": round(time.monotonic() - started, 1),
            }
            ffu["status"] = "failed"
            state.set("ffu", ffu)
            where = "the final deploy" if final else f"step {step}"
            raise PhaseError(
                "ffu",
                f"{where} of release {release} failed: {exc}",
                rerun=f"{plan.rerun} --from-release {release} --from-step {step}",
            ) from exc
        ffu["steps"][_key(position)] = {"status": "done", "seconds": round(time.monotonic() - started, 1)}
        last_of_release = final or step == 9
        ffu.update({"step": DONE if last_of_release else step + 1})
        state.set("ffu", ffu)
        if last_of_release:
            plan.snapshot(release)
    ffu["status"] = "done"
    state.set("ffu", ffu)
    return ffu
