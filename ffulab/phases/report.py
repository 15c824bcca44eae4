"""Phase ``report``: write the run's artifacts; fail the run when the summary does (a test regressed,
a resource did not survive) even if no earlier phase raised."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.context import artifacts_dir
from ffulab.errors import PhaseError
from ffulab.job.artifacts import write_artifacts
from ffulab.job.report_html import REPORT_FILE

if TYPE_CHECKING:
    from ffulab.context import Context


def run(ctx: Context) -> None:
    artifacts = artifacts_dir(ctx)
    summary = write_artifacts(ctx.workspace, ctx.state, artifacts, progress=ctx.progress)
    if summary["result"] != "pass":
        raise PhaseError(
            "report",
            "; ".join(summary["reasons"]),
            rerun=f"open {artifacts / REPORT_FILE}",
        )
