"""Where an upgrade is: (release, step) positions in order, and where a run starts.

Two paths (the release config's ``path``):

* ``ffu``, the fast-forward walk N -> N+3: every intermediate release of the chain goes through
  steps 1-9 of the TripleO FFU spec, and the last release (N+3) has one position, the final deploy;
* ``slurp``, OpenStack's skip-level upgrade N -> N+2 between SLURP releases: the one hop goes through
  steps 1-9 at N+2 (backups, the N+2 artifacts, the database syncs and online migrations, the upgrade
  checks), then the final deploy at N+2.

The final deploy is step ``FINAL_STEP`` (``--from-step final``). The state's ``ffu`` keeps
``release`` and ``step``: the next step to run; ``DONE`` once a release is finished.
"""

from __future__ import annotations

from ffulab.catalog import FFU_STEPS
from ffulab.errors import UsageError
from ffulab.state import FfuRecord

FINAL_STEP = 10
DONE = 11
PREP_STEPS = frozenset({1, 2, 3})
PATHS = ("ffu", "slurp")

Position = tuple[str, int]


def positions(chain: list[str], path: str = "ffu") -> list[Position]:
    """Every position of the upgrade along ``chain``, in order; the final deploy last."""
    stepped = chain[1:] if path == "slurp" else chain[1:-1]
    steps = [(release, step) for release in stepped for step in FFU_STEPS]
    return [*steps, (chain[-1], FINAL_STEP)]


def is_final(position: Position) -> bool:
    return position[1] == FINAL_STEP


def step_name(step: int) -> str:
    return "the final deploy" if step == FINAL_STEP else f"step {step}"


def parse_step(text: str) -> int:
    """``--from-step``: 1-9, or ``final`` (the final deploy)."""
    if text.strip().lower() == "final":
        return FINAL_STEP
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--from-step: {text!r} is not a step: give 1-9 or 'final'") from None


def start_index(
    chain: list[str],
    ffu_state: FfuRecord,
    from_release: str | None = None,
    from_step: int | None = None,
    path: str = "ffu",
) -> int:
    """The index in ``positions(chain, path)`` to run next.

    With ``from_release`` (and optionally ``from_step``: default the release's first position) the run
    starts there; otherwise it resumes where the state says it stopped (the step that was running or
    next), or starts at the beginning.
    """
    order = positions(chain, path)
    if from_release is not None or from_step is not None:
        release = from_release or ffu_state.release or chain[1]
        if release not in chain[1:]:
            raise UsageError(
                f"--from-release: {release!r} is not a release the upgrade goes to; "
                f"choose from {', '.join(chain[1:])}"
            )
        steps = [step for r, step in order if r == release]
        step = from_step if from_step is not None else steps[0]
        if (release, step) not in order:
            allowed = ", ".join("final" if s == FINAL_STEP else str(s) for s in steps)
            raise UsageError(f"--from-step: release {release} has step(s) {allowed}, not {step}")
        return order.index((release, step))
    if not ffu_state.release:
        return 0
    return next_index(order, ffu_state.release, ffu_state.step or 1)


def next_index(order: list[Position], release: str, step: int) -> int:
    """The index of (release, step) in ``order``, or of the first position after a finished release."""
    if step >= DONE:
        later = [i for i, (r, _) in enumerate(order) if r == release]
        return later[-1] + 1 if later else 0
    return order.index((release, step)) if (release, step) in order else 0
