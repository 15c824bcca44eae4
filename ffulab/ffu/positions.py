"""Where an FFU is: (release, step) positions in order, and where a run starts.

Every intermediate release of the chain (N+1 ... N+3-1) goes through steps 1-9 of the TripleO
FFU spec; the last release (N+3) has one position, the final deploy (step 1). The state's
``ffu`` keeps ``release`` and ``step``: the next step to run; ``DONE`` after a release's last.
"""

from __future__ import annotations

from ffulab.catalog import FFU_STEPS
from ffulab.errors import UsageError
from ffulab.state import FfuRecord

FINAL_STEP = 1
DONE = 10
PREP_STEPS = frozenset({1, 2, 3})

Position = tuple[str, int]


def positions(chain: list[str]) -> list[Position]:
    """Every position of the FFU along ``chain``, in order; the final deploy last."""
    steps = [(release, step) for release in chain[1:-1] for step in FFU_STEPS]
    return [*steps, (chain[-1], FINAL_STEP)]


def is_final(chain: list[str], position: Position) -> bool:
    return position[0] == chain[-1]


def start_index(
    chain: list[str], ffu_state: FfuRecord, from_release: str | None = None, from_step: int | None = None
) -> int:
    """The index in ``positions(chain)`` to run next.

    With ``from_release`` (and optionally ``from_step``) the run starts there; otherwise it resumes
    where the state says it stopped (the step that was running or next), or starts at the beginning.
    """
    order = positions(chain)
    if from_release is not None or from_step is not None:
        release = from_release or ffu_state.release or chain[1]
        if release not in chain[1:]:
            raise UsageError(
                f"--from-release: {release!r} is not a release the FFU goes to; "
                f"choose from {', '.join(chain[1:])}"
            )
        step = from_step if from_step is not None else 1
        if (release, step) not in order:
            allowed = "1 (the final deploy)" if release == chain[-1] else "1-9"
            raise UsageError(f"--from-step: release {release} has step(s) {allowed}, not {step}")
        return order.index((release, step))
    if not ffu_state.release:
        return 0
    release, step = ffu_state.release, ffu_state.step or 1
    if step >= DONE:
        later = [i for i, (r, _) in enumerate(order) if r == release]
        return later[-1] + 1 if later else 0
    return order.index((release, step)) if (release, step) in order else 0
