"""Phase ``baseline``: the same checks at N, before the FFU, so the report can name what it broke."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.validate.validation import validate

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    validate(ctx.workspace, progress=ctx.progress, label="baseline", resolved=ctx.resolved, state=ctx.state)
