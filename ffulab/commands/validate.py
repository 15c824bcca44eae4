"""``ffulab validate -w WS [--tempest-regex RE] [--json]``: Tempest and the service checks, as JUnit.

Before the FFU it is the baseline run, after it the final one (the deployed release says which):
``<workspace>/artifacts/validate/<baseline|final>/junit-{tempest,services}.xml``, counts printed,
exit 1 when a test failed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ffulab.logs import start_log
from ffulab.paths import lab_workspace
from ffulab.ui import console, phase_progress, print_json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand to the CLI's subparsers."""
    parser = sub.add_parser("validate", help="Tempest + service checks, JUnit into the workspace artifacts")
    parser.add_argument(
        "-w",
        "--working-dir",
        type=Path,
        metavar="WS",
        help="lab workspace (default: the lab of the last 'ffulab run')",
    )
    parser.add_argument("--tempest-regex", metavar="RE", help="the Tempest tests to run (default: the job's)")
    parser.add_argument("--json", action="store_true", help="print the recorded result as JSON")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from ffulab.validate import ValidationFailed, validate
    from ffulab.validate.validation import summary

    workspace = lab_workspace(args.working_dir)
    log = start_log(workspace, "validate")
    try:
        if args.json:  # stdout carries the JSON alone; progress goes to the log
            result = validate(workspace, regex=args.tempest_regex, progress=_log_only)
        else:
            console.print(f"validating the lab in {workspace} (log: {log})")
            with phase_progress("validate") as progress:
                result = validate(workspace, regex=args.tempest_regex, progress=progress)
    except ValidationFailed as failed:
        if args.json:
            print_json(failed.result)
        raise
    if args.json:
        print_json(result)
        return 0
    console.print(f"[green]✓[/] validated at {result['release']}: {summary(result)}")
    for kind in ("tempest", "services"):
        if result[kind] is not None:
            console.print(f"  {kind}: {result[kind]['junit']}", markup=False)
    return 0


def _log_only(line: str) -> None:
    logging.getLogger("ffulab.progress").info("validate: %s", line)
