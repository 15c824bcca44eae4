"""The pipeline's ``virthost`` phase: prepare the lab's virthost, record it and its virt type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.errors import FfulabError
from ffulab.virthost import from_record, virthost_for

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    settings = ctx.resolved.config.settings
    spec = ctx.options.get("virthost") or ctx.state.data.virthost_spec or settings.virthost
    recorded = ctx.state.data.virthost
    # 'auto' must not move a lab that already lives on a virthost
    virthost = from_record(recorded) if recorded and spec in (None, "", "auto") else virthost_for(spec)
    if recorded and recorded.get("spec") != virthost.spec and ctx.state.resources():
        raise FfulabError(
            f"this lab lives on virthost {recorded.get('spec')}, not {virthost.spec}: "
            f"use --virthost {recorded.get('spec')}, or 'ffulab destroy -w {ctx.workspace}' first"
        )
    virthost.register(ctx.workspace)  # before prepare: a lab being destroyed meanwhile sees this one
    for line in virthost.prepare(progress=ctx.progress):
        ctx.progress(line)
    virthost.register(ctx.workspace)  # again, now that it is ready (an ssh virthost may not have answered)
    result, _ = virthost.virt_type()
    ctx.state.update(virthost=virthost.to_record(), virt_type=result.virt_type)
    ctx.progress(f"virthost {virthost.spec} ready, virt type {result.virt_type} ({result.reason})")
