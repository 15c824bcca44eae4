"""``ffulab job list | run [JOB] | compare RUN_A RUN_B | export --zuul DIR``: the jobs a CI system runs,
how it runs them, and two runs side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from ffulab.config.resolve import default_job
from ffulab.paths import directory
from ffulab.ui import console, print_json


def cmd_list(args: argparse.Namespace) -> int:
    from ffulab.job.listing import list_jobs

    jobs = list_jobs()
    if args.json:
        print_json([job.to_dict() for job in jobs])
        return 0
    width = max((len(job.name) for job in jobs), default=0)
    default = default_job()
    for job in jobs:
        marker = " (default)" if job.name == default else ""
        console.print(f"{job.name:<{width}}  {job.description}{marker}", markup=False)
        console.print(f"{'':<{width}}  {job.release} · {job.lab} · {job.nodes}", markup=False, style="dim")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ffulab.job.run import JobRun, run_job

    return run_job(
        JobRun(
            job=args.name or default_job(),
            workspace=args.working_dir,
            artifacts=args.artifacts,
            keep=args.keep,
            keep_on_failure=args.keep_on_failure,
            extra_vars=args.extra_vars,
            virthost=args.virthost,
            reuse=args.reuse,
        )
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from ffulab.job.compare import compare_runs

    text, written = compare_runs(args.run_a, args.run_b, args.html)
    console.print(text, markup=False, end="")
    console.print(f"written: {written}", markup=False)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ffulab.job.listing import list_jobs
    from ffulab.job.zuul import export_zuul

    target = directory(args.zuul, "--zuul DIR")
    for path in export_zuul(target, list_jobs(), label=args.label, project=args.project):
        console.print(f"wrote {path}", markup=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``job`` and its actions to the top-level subcommands."""
    from ffulab.job.zuul import DEFAULT_LABEL

    job = sub.add_parser("job", help="list, run and export CI jobs (jobs/*.yml)")
    actions = job.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the jobs under jobs/ with their release, lab and nodes")
    listing.add_argument("--json", action="store_true", help="print the jobs as JSON")
    listing.set_defaults(func=cmd_list)

    run = actions.add_parser(
        "run",
        help="run a job's whole pipeline on a fresh lab, write its artifacts, destroy the lab",
        description="Exit 0: the job passed; 1: it failed (artifacts written); 2: bad job or flags.",
    )
    run.add_argument(
        "name",
        metavar="JOB",
        nargs="?",
        help="job name (see 'ffulab job list') or file (default: the job it marks default)",
    )
    run.add_argument(
        "-w", "--working-dir", type=Path, metavar="WS", help="lab workspace (default: ~/.ffulab/<job>)"
    )
    run.add_argument("--artifacts", type=Path, metavar="DIR", help="default: <workspace>/artifacts")
    run.add_argument("--keep", action="store_true", help="keep the lab afterwards")
    run.add_argument("--keep-on-failure", action="store_true", help="keep the lab if the job fails")
    run.add_argument(
        "--reuse",
        action="store_true",
        help="keep the deployed lab powered off for the next --reuse run of the job, which starts from it",
    )
    run.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key of the job, dotted for nested keys (repeatable; last wins)",
    )
    run.add_argument("--virthost", help="sandbox | local | ssh://user@host (default: auto)")
    run.set_defaults(func=cmd_run)

    compare = actions.add_parser(
        "compare", help="two runs side by side (artifacts directories): time, downtime, resources, tests"
    )
    compare.add_argument("run_a", metavar="RUN_A", type=Path, help="a run's artifacts directory")
    compare.add_argument("run_b", metavar="RUN_B", type=Path, help="another run's artifacts directory")
    compare.add_argument(
        "--html", type=Path, default=Path("compare.html"), metavar="FILE", help="default ./compare.html"
    )
    compare.set_defaults(func=cmd_compare)

    export = actions.add_parser("export", help="write CI definitions of every job")
    export.add_argument("--zuul", type=Path, metavar="DIR", required=True, help="Zuul jobs and playbooks")
    export.add_argument("--label", default=DEFAULT_LABEL, help=f"the virthost node's label ({DEFAULT_LABEL})")
    export.add_argument(
        "--project", help="ffulab's canonical project name in the tenant, when other projects run the jobs"
    )
    export.set_defaults(func=cmd_export)
