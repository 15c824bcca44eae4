"""The ``ffulab`` command line: parse, call, print. Flags follow tripleo-quickstart."""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
from pathlib import Path

from ffulab import __version__
from ffulab.commands.job import register as register_job
from ffulab.commands.validate import register as register_validate
from ffulab.config.resolve import Resolved, resolve
from ffulab.context import Context
from ffulab.errors import FfulabError, UsageError
from ffulab.ffu.positions import parse_step
from ffulab.logs import start_log
from ffulab.paths import default_workspace, lab_workspace, workspace_dir
from ffulab.phases import PHASE_NAMES, select
from ffulab.pipeline import run_phases, start_run
from ffulab.plan import build_plan
from ffulab.state import State
from ffulab.ui import console, detail, error, print_json, render_plan, render_status

log = logging.getLogger("ffulab")


class Parser(argparse.ArgumentParser):
    """Positionals and flags in any order: ``snapshot create -w WS s1`` as well as ``create s1 -w WS``.

    Plain argparse matches the positionals of a command at their first run of words: in ``create -w WS
    s1`` it gives ``create`` to the action, nothing to the optional NAME, and then refuses ``s1``.
    Every subcommand without a subcommand or remainder of its own (``job``, ``ssh CMD...``) therefore
    parses intermixed: flags first, then the positionals from the words left.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        positionals = self._get_positional_actions()
        if self._intermixing or any(a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in positionals):
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls parse_known_args itself
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _csv(values: list[str] | None) -> list[str]:
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def _config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j", "--job", help="job name or file (default: the job 'ffulab job list' marks default)"
    )
    parser.add_argument("-R", "--release", help="release config name or file (release-configs/)")
    parser.add_argument("-c", "--config", dest="lab", help="lab (general config) name or file (labs/)")
    parser.add_argument("-N", "--nodes", help="nodes config name or file (nodes/)")
    parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, dotted for nested keys (repeatable; last wins)",
    )


def _workspace_flag(parser: argparse.ArgumentParser, run: bool = False) -> None:
    default = "~/.ffulab/<lab-name>" if run else "the lab of the last 'ffulab run'"
    parser.add_argument(
        "-w", "--working-dir", type=Path, metavar="WS", help=f"lab workspace (default: {default})"
    )


def _step(text: str) -> int:
    """``--from-step``: 1-9 or ``final``; anything else is argparse's usage error (exit 2)."""
    try:
        return parse_step(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--from-step: ")) from None


def _existing_workspace(args: argparse.Namespace) -> Path:
    """``-w`` or the lab of the last ``ffulab run`` (``~/.ffulab/current``)."""
    return lab_workspace(args.working_dir)


def _resolve(args: argparse.Namespace) -> Resolved:
    return resolve(
        job=args.job, release=args.release, lab=args.lab, nodes=args.nodes, extra_vars=args.extra_vars
    )


def cmd_plan(args: argparse.Namespace) -> int:
    plan = build_plan(_resolve(args))
    if args.json:
        print_json(plan)
    else:
        render_plan(plan)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    try:
        phases = select(_csv(args.tags), _csv(args.skip_tags))
    except ValueError as exc:
        raise UsageError(
            f"unknown phase(s) in --tags/--skip-tags: {exc}; phases are {', '.join(PHASE_NAMES)}"
        ) from None
    resolved = _resolve(args)
    workspace = workspace_dir(args.working_dir or default_workspace(resolved.config.lab.name))
    state, log_path = start_run(resolved, workspace, args.virthost, "run")
    console.print(f"lab [bold]{resolved.config.lab.name}[/] in {workspace} (log: {log_path})")
    ctx = Context(resolved=resolved, state=state, workspace=workspace, options={"virthost": args.virthost})
    if args.from_snapshot:
        from ffulab.commands.snapshot import revert_before_run

        revert_before_run(state, args.from_snapshot)
    try:
        run_phases(ctx, phases)
    finally:
        timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in ctx.timings.items())
        console.print(f"phase timings: {timings or '-'}; log: {log_path}")
    return 0


def cmd_ffu(args: argparse.Namespace) -> int:
    from ffulab.commands.ffu import ffu_command

    return ffu_command(
        _existing_workspace(args),
        from_release=args.from_release,
        from_step=args.from_step,
        no_revert=args.no_revert,
        rollback_drill=args.rollback_drill,
    )


def cmd_update(args: argparse.Namespace) -> int:
    from ffulab.commands.update import update_command

    return update_command(_existing_workspace(args))


def cmd_status(args: argparse.Namespace) -> int:
    from ffulab.commands.status import lab_status

    status = lab_status(_existing_workspace(args))
    if args.json:
        print_json(status)
    else:
        render_status(status)
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from ffulab.commands.destroy import destroy

    workspace = _existing_workspace(args)
    start_log(workspace, "destroy")
    removed = destroy(workspace, progress=detail)
    console.print(f"destroyed: {len(removed)} resource(s) removed; logs kept in {workspace / 'logs'}")
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    from ffulab.provision.access import ssh_argv

    workspace = _existing_workspace(args)
    State.load(workspace)  # a clear error when there is no lab
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    argv = ssh_argv(workspace, args.node, command, batch=bool(command))
    return subprocess.call(argv)


def cmd_virthost(args: argparse.Namespace) -> int:
    from ffulab.virthost import virthost_for

    virthost = virthost_for(args.virthost)
    if args.action == "prepare":
        changed = virthost.prepare(progress=detail)
        console.print(f"virthost {virthost.spec}: " + ("ready, nothing changed" if not changed else "ready"))
        for line in changed:
            detail(line)
        return 0
    report = virthost.check()
    if args.json:
        print_json(report.to_dict())
    else:
        for line in report.lines():
            console.print(line, markup=False)
    return 0 if report.ok else 1


def cmd_snapshot(args: argparse.Namespace) -> int:
    from ffulab.commands.snapshot import snapshot_command

    return snapshot_command(_existing_workspace(args), args.action, args.name, as_json=args.json)


def cmd_lock(args: argparse.Namespace) -> int:
    from ffulab.artifacts import lock_release

    resolved = _resolve(args)
    series = list(resolved.config.series) if args.all_series else (args.series or None)
    paths = lock_release(
        resolved,
        detail,
        services=args.service or None,
        series=series,
        refresh=args.refresh,
    )
    for path in paths:
        console.print(f"locked {path}", markup=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ffulab",
        description="Fast-forward-upgrade test lab for OpenStack: virtual undercloud + overcloud on libvirt.",
    )
    parser.add_argument("--version", action="version", version=f"ffulab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    plan = sub.add_parser("plan", help="print the resolved config and the phase/step plan; creates nothing")
    _config_flags(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(func=cmd_plan)

    run = sub.add_parser("run", help="run the pipeline (default: the default job, all phases)")
    _config_flags(run)
    _workspace_flag(run, run=True)
    run.add_argument(
        "-t", "--tags", action="append", help=f"phases to run, comma-separated: {','.join(PHASE_NAMES)}"
    )
    run.add_argument("--skip-tags", action="append", help="phases to skip, comma-separated")
    run.add_argument("--virthost", help="sandbox | local | ssh://user@host (default: auto)")
    run.add_argument("--from-snapshot", metavar="NAME", help="revert the lab to snapshot NAME first")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="nodes, power, addresses, phase, snapshots")
    _workspace_flag(status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=cmd_status)

    destroy_cmd = sub.add_parser("destroy", help="remove everything the lab created (logs stay)")
    _workspace_flag(destroy_cmd)
    destroy_cmd.set_defaults(func=cmd_destroy)

    ffu = sub.add_parser("ffu", help="(re)run the FFU: continue where it stopped, or from a release and step")
    _workspace_flag(ffu)
    ffu.add_argument("--from-release", metavar="R", help="rerun from this release of the chain")
    ffu.add_argument(
        "--from-step", metavar="S", type=_step, help="rerun from this step (1-9 or final; default the first)"
    )
    ffu.add_argument(
        "--no-revert", action="store_true", help="with --from-*: do not revert to a snapshot first"
    )
    ffu.add_argument(
        "--rollback-drill",
        action="store_true",
        help="run steps 1-4 of the first release, restore the backups and N, verify; the lab stays at N",
    )
    ffu.set_defaults(func=cmd_ffu)

    update = sub.add_parser(
        "update", help="the minor update at N (release.update_from): node by node to N's point releases"
    )
    _workspace_flag(update)
    update.set_defaults(func=cmd_update)

    register_validate(sub)

    snapshot = sub.add_parser("snapshot", help="lab-consistent snapshots")
    snapshot.add_argument("action", choices=["create", "list", "revert", "delete"])
    snapshot.add_argument("name", nargs="?", help="snapshot name (create: default snap-<UTC time>)")
    _workspace_flag(snapshot)
    snapshot.add_argument("--json", action="store_true", help="list: print the snapshots as JSON")
    snapshot.set_defaults(func=cmd_snapshot)

    ssh = sub.add_parser("ssh", help="ssh to a lab node through the workspace ssh config")
    _workspace_flag(ssh)
    ssh.add_argument("node")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=cmd_ssh)

    lock = sub.add_parser(
        "lock", help="build the release's service artifacts and write their pins to release-configs/locks/"
    )
    _config_flags(lock)
    lock.add_argument("--service", action="append", help="only this service (repeatable)")
    lock.add_argument(
        "--series", action="append", help="only this series (repeatable; default: the FFU chain)"
    )
    lock.add_argument("--all-series", action="store_true", help="every series in release-configs/common.yml")
    lock.add_argument("--refresh", action="store_true", help="rewrite locks that already exist")
    lock.set_defaults(func=cmd_lock)

    virthost = sub.add_parser("virthost", help="install + start libvirt, report the virt type")
    virthost.add_argument("action", choices=["prepare", "check"])
    virthost.add_argument("--virthost", help="sandbox | local | ssh://user@host (default: auto)")
    virthost.add_argument("--json", action="store_true", help="check: print the report as JSON")
    virthost.set_defaults(func=cmd_virthost)

    register_job(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # a CI system's abort (SIGTERM) stops ffulab the way Ctrl-C does: state saved, `job run` cleans up
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args)
    except FfulabError as exc:
        log.error("%s", exc)
        error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error("interrupted; the lab's state is saved: rerun the same command to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
