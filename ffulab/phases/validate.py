"""Phase ``validate``: Tempest and the service checks at N+3, after the FFU (label ``final``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.validate.validation import validate

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    validate(ctx.workspace, progress=ctx.progress, label="final", resolved=ctx.resolved, state=ctx.state)
