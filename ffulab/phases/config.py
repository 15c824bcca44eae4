"""Phase ``config``: the layers merged and validated before anything else runs (``resolve`` did it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    ctx.progress(f"resolved ({ctx.resolved.files.get('job', 'flags')})")
