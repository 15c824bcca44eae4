"""Automatic snapshots at the pipeline's milestones, and the call the FFU engine makes after a release.

``ffulab.phases.PHASES`` names the snapshot taken after a phase; the FFU engine calls
``auto_snapshot(ctx, f"ffu-{release}", release=release)`` after each release. An automatic
snapshot replaces the older automatic one of the same name; ``settings.snapshots.auto: false``
switches them all off.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ffulab.snapshot import lab, records
from ffulab.state import Window

if TYPE_CHECKING:
    from ffulab.context import Context

log = logging.getLogger(__name__)


def auto_enabled(ctx: Context) -> bool:
    return ctx.resolved.config.settings.snapshots.auto


def auto_snapshot(
    ctx: Context, name: str, *, release: str | None = None, step: int | None = None
) -> dict[str, Any] | None:
    """Take the automatic snapshot ``name`` of the lab; return its record (None when switched off).

    ``release``/``step`` record the FFU position (default: read from the state's ``ffu``, if any;
    ``release`` alone means that release is finished).
    """
    if not auto_enabled(ctx):
        log.info("automatic snapshot %s skipped: settings.snapshots.auto is false", name)
        return None
    existing = records.find(ctx.state, name)
    if existing and not existing.get("auto"):
        ctx.progress(f"automatic snapshot {name} skipped: a snapshot of that name was made by hand")
        return None
    if existing:
        ctx.progress(f"replacing the older automatic snapshot {name}")
        lab.delete(ctx.state, name, progress=ctx.progress)
    ffu = None
    if release:
        ffu = {"release": release, "step": records.DONE_STEP if step is None else int(step)}
    outcome = lab.create(ctx.state, name, auto=True, ffu=ffu, progress=ctx.progress)
    if ffu and "paused" in outcome.record:
        # the FFU's poller runs through this pause: what it saw then is ffulab's doing, not the upgrade's
        ctx.state.data.ffu.paused.append(Window(**outcome.record["paused"]))
        ctx.state.save()
    return outcome.record


def drop_superseded(ctx: Context, older: str, newer: str, setting: str) -> None:
    """Delete the automatic snapshot ``older`` now that ``newer`` holds a later point of the lab,
    unless ``settings.snapshots.<setting>`` asks to keep it."""
    if getattr(ctx.resolved.config.settings.snapshots, setting):
        return
    record = records.find(ctx.state, older)
    if record and record.get("auto"):
        lab.delete(ctx.state, older, progress=ctx.progress)
        ctx.progress(f"snapshot {older} dropped: {newer} is newer (settings.snapshots.{setting})")
