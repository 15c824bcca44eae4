"""The FFU engine: walk the chain's positions, run each step's role tasks, keep state after each.

Each position runs ``playbooks/ffu.yml`` with ``release`` and ``step``; the roles' ``tasks/ffu.yml``
act on ``step|int == N and release == R``. Prep steps (1-3) run on every overcloud node, bootstrap
steps (4-9) on one node per role; the final deploy at N+3 runs the deploy playbook on every node,
then step 9's checks at N+3. A role reports each check it makes (``<service>-status upgrade
check``, schema at head) as ``ffulab-check: NAME ok|warning|failed DETAIL``; the engine keeps them
per release and service in ``ffu.checks`` (a failed check fails its task, hence the step).
Within a step the nodes of one role go one at a time (roles side by side), after the canary node
when there is one; the final deploy goes role after role in the lab's order (control plane first),
one node at a time, the canary first in its role and checked (``after_canary``) before the others.
A step no service of the lab acts at is recorded as such and not run.
State is written before and after each position, so a kill leaves a lab that ``ffulab ffu``
resumes at the step that did not finish.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ffulab.errors import FfulabError, PhaseError
from ffulab.ffu.positions import DONE, PREP_STEPS, Position, is_final, positions, start_index, step_name
from ffulab.state import CheckResult, FfuRecord, State, StepRecord, StepRun

RunPlaybook = Callable[[str, dict[str, Any], str | None, str], Any]
"""(playbook, extravars, limit, label) -> result (with ``outputs``); raises on failure."""

FINAL_PLAYBOOK = "overcloud.yml"
STEP_PLAYBOOK = "ffu.yml"
CHECK_STEP = 9
CHECK_LINE = re.compile(
    r"^ffulab-check: (?P<name>\S+) (?P<status>ok|warning|failed)(?: (?P<detail>.*?))?\r?$", re.MULTILINE
)
"""What a role prints per check it makes at step 9 (e.g. ``upgrade-check warning ...``)."""
PART_LINE = re.compile(r"^ffulab-part: (?P<service>\S+)")
"""roles/common/templates/parts.sh.j2's line before each service's part of a step."""


def record_checks(ffu: FfuRecord, release: str, result: Any) -> list[str]:
    """Keep the ``ffulab-check:`` lines of a run (also of a failed one) under ``ffu.checks[release]``;
    return those that are not ok, as ``service NAME: status detail``. A line belongs to the role whose
    task printed it, or to the service of the ``ffulab-part:`` before it (a step's parts side by side)."""
    noted = []
    for output in getattr(result, "outputs", None) or []:
        service = output.get("role") or "?"
        for line in (output.get("stdout") or "").splitlines():
            if part := PART_LINE.match(line):
                service = part["service"]
            elif match := CHECK_LINE.match(line):
                check = CheckResult(status=match["status"], detail=(match["detail"] or "")[:2000])
                ffu.checks.setdefault(release, {}).setdefault(service, {})[match["name"]] = check
                if check.status != "ok":
                    noted.append(f"{service} {match['name']}: {check.status} {check.detail}".strip())
    return noted


@dataclass
class FfuPlan:
    """What the engine needs from the lab: the chain, the nodes per role, how to run a playbook."""

    chain: list[str]
    role_nodes: dict[str, list[str]]
    extravars: Callable[[str], dict[str, Any]]
    """release -> the variables the roles get at that release."""
    run_playbook: RunPlaybook
    active_steps: Collection[int] = field(default_factory=lambda: range(1, 10))
    """The steps at which some service of the lab has tasks; the others are not run."""
    canary: str | None = None
    """A node that goes alone before the others of its role at each position it takes part in."""
    after_canary: Callable[[str], str] | None = None
    """Called with the canary once its final deploy is done, before any other node of its role moves
    (the workloads checked there); returns what it found; raising stops the FFU with the others untouched."""
    final_extra_hosts: list[str] = field(default_factory=list)
    """Hosts the final deploy's playbook also acts on (the undercloud gets the new credentials)."""
    snapshot: Callable[[str], None] = lambda release: None
    """Called when a release is done (automatic ``ffu-<release>`` snapshot)."""
    checkpoint: Callable[[Position], None] | None = None
    """Called before each position that does work (the rolling ``ffu-step`` snapshot), when on."""
    rerun: str = "ffulab ffu"
    path: str = "ffu"
    """``ffu`` (every release of the chain) or ``slurp`` (one skip-level hop): ffulab/ffu/positions.py."""
    parallel: bool = True
    """At a step, a node runs its services' parts side by side (playbooks/ffu.yml, ffulab_step_parts)."""

    def targets(self, position: Position) -> list[str]:
        """All overcloud nodes for prep steps and the final deploy; one per role for bootstrap steps."""
        _, step = position
        everyone = is_final(position) or step in PREP_STEPS
        return [node for nodes in self.role_nodes.values() for node in (nodes if everyone else nodes[:1])]

    def batches(self, position: Position) -> list[list[str]]:
        """The targets in runs. A step: the canary alone first, then the i-th node of every role
        together. The final deploy: role after role in the lab's order (the control plane before the
        computes: servers before agents), one node at a time, the canary first in its role."""
        targets = self.targets(position)
        if is_final(position):
            return [
                [node]
                for nodes in self.role_nodes.values()
                for node in sorted(nodes, key=lambda node: node != self.canary)
                if node in targets
            ]
        first = [[self.canary]] if self.canary in targets else []
        rest = [[n for n in nodes if n in targets and n != self.canary] for nodes in self.role_nodes.values()]
        depth = max(map(len, rest), default=0)
        waves = [[nodes[i] for nodes in rest if i < len(nodes)] for i in range(depth)]
        return first + [wave for wave in waves if wave]

    def runs(self, position: Position) -> bool:
        return is_final(position) or position[1] in self.active_steps


def step_key(position: Position) -> str:
    return f"{position[0]}/{position[1]}"


def run_ffu(
    state: State,
    plan: FfuPlan,
    progress: Callable[[str], None],
    from_release: str | None = None,
    from_step: int | None = None,
    stop_after: Position | None = None,
) -> FfuRecord:
    """Run the FFU from where it stopped (or from ``from_release``/``from_step``); return its state.

    ``stop_after`` ends the walk after that position (the rollback drill stops after step 4).
    """
    order = positions(plan.chain, plan.path)
    ffu = state.data.ffu
    first = start_index(plan.chain, ffu, from_release, from_step, plan.path)
    ffu.chain, ffu.path = plan.chain, plan.path
    for position in order[first:]:
        _run_position(state, plan, position, progress)
        if position == stop_after:
            return ffu
    ffu.status = "done"
    state.save()
    return ffu


def _run_position(state: State, plan: FfuPlan, position: Position, progress: Callable[[str], None]) -> None:
    release, step = position
    final = is_final(position)
    what = step_name(step)
    ffu = state.data.ffu
    if plan.checkpoint and plan.runs(position):
        plan.checkpoint(position)  # the lab just before this step: a rerun of it starts here
    ffu.release, ffu.step, ffu.status = release, step, "running"
    record = StepRecord(status="running", started=round(time.time(), 3))
    ffu.steps[step_key(position)] = record
    state.save()
    started = time.monotonic()
    if plan.runs(position):
        extravars = {**plan.extravars(release), "release": release, "step": step}
        runs = [
            (
                FINAL_PLAYBOOK if final else STEP_PLAYBOOK,
                batch + (plan.final_extra_hosts if final else []),
                f"ffu-{release}-final" if final else f"ffu-{release}-step{step}",
            )
            for batch in plan.batches(position)
        ]
        if final and CHECK_STEP in plan.active_steps:  # the checks of step 9, at N+3 too
            checks = [nodes[:1] for nodes in plan.role_nodes.values() if nodes]
            runs.append((STEP_PLAYBOOK, [n for nodes in checks for n in nodes], f"ffu-{release}-checks"))
        for playbook, hosts, label in runs:
            progress(f"{release} {'checks' if label.endswith('checks') else what} on {', '.join(hosts)}")
            variables = {**extravars, "step": CHECK_STEP} if label.endswith("checks") else extravars
            if playbook == STEP_PLAYBOOK:
                variables = {**variables, "ffulab_step_parts": plan.parallel}
            try:
                with _recorded(state, record, label, hosts):
                    result = plan.run_playbook(playbook, variables, ",".join(hosts), label)
                canary_done = final and playbook == FINAL_PLAYBOOK and hosts[0] == plan.canary
                if canary_done and plan.after_canary:
                    progress(f"{release} canary {plan.canary} at {release}: checking its workloads")
                    with _recorded(state, record, "canary check", hosts) as run:
                        run.detail = plan.after_canary(plan.canary)
            except FfulabError as exc:
                record_checks(ffu, release, getattr(exc, "result", None))
                record.status, record.seconds, record.ended = "failed", _since(started), round(time.time(), 3)
                ffu.status = "failed"
                state.save()
                raise PhaseError(
                    "ffu",
                    f"{what} of release {release} failed: {exc}",
                    rerun=f"{plan.rerun} --from-release {release} --from-step {'final' if final else step}",
                ) from exc
            for line in record_checks(ffu, release, result):
                progress(f"{release} check {line}")
            state.warn(getattr(result, "warnings", None) or [])
            for timed in getattr(result, "steps", None) or []:
                record.timings[f"{timed['host']} {timed['step']}"] = timed["seconds"]
        record.status = "done"
    else:
        progress(f"{release} step {step}: no service of this lab acts here")
        record.status = "nothing to do"
    record.seconds, record.ended = _since(started), round(time.time(), 3)
    last_of_release = final or (step == 9 and plan.path == "ffu")
    ffu.step = DONE if last_of_release else step + 1
    state.save()
    if last_of_release:
        plan.snapshot(release)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 1)


@contextmanager
def _recorded(state: State, record: StepRecord, what: str, hosts: list[str]) -> Iterator[StepRun]:
    """``what`` on ``hosts`` in the step's runs, saved before it starts: the order the nodes went in is
    the lab's (a canary checked before the others is shown, not assumed), failed if it raised."""
    run = StepRun(what=what, hosts=list(hosts), started=round(time.time(), 3))
    record.runs.append(run)
    state.save()
    started = time.monotonic()
    try:
        yield run
        run.status = "done"
    except BaseException:
        run.status = "failed"
        raise
    finally:
        run.seconds = _since(started)
