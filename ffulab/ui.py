"""How ffulab talks to a person: one rich console, plain when stdout is not a terminal."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


log = logging.getLogger("ffulab.progress")


@contextmanager
def phase_progress(name: str) -> Iterator[Callable[[str], None]]:
    """A callback showing ``line`` with the phase's elapsed time: live on a terminal, plain lines in CI.

    Plain lines (stdout not a terminal) open with the phase's start, then carry the wall clock, the
    phase's elapsed seconds and the seconds since the previous line, so a CI log tells where the time
    went. A phase that stops on an error gets a line saying so in both modes.
    """
    started = time.monotonic()
    try:
        if console.is_terminal:
            with console.status(f"[bold]{name}[/] …") as status:

                def live(line: str) -> None:
                    log.info("%s: %s", name, line)
                    status.update(f"[bold]{name}[/] {time.monotonic() - started:5.0f}s  {line}")

                yield live
            return
        console.print(f"{_clock()} ▶ {name}", markup=False)
        last = started

        def plain(line: str) -> None:
            nonlocal last
            now = time.monotonic()
            log.info("%s: %s", name, line)
            console.print(f"{_clock()} [{name} {now - started:.0f}s +{now - last:.0f}s] {line}", markup=False)
            last = now

        yield plain
    except BaseException:
        console.print(f"[red]✗[/] {name:<10} {time.monotonic() - started:6.1f}s  stopped", highlight=False)
        raise


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def detail(line: str) -> None:
    """One indented progress line of a command, printed as written (no rich markup)."""
    console.print(f"  {line}", markup=False)


def error(message: str) -> None:
    """The message as written: brackets in it (test ids, ``[node]``) are text, not rich markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def render_plan(plan: dict[str, Any]) -> None:
    """The resolved config and the phase/step plan, for reading before running anything."""
    config = plan["config"]
    release = config["release"]
    console.print(f"[bold]ffulab plan[/] — job {config['job']['name'] if config.get('job') else '(none)'}")
    for kind, label in plan["files"].items():
        console.print(f"  {kind:<8} {label}")
    for override in plan["overrides"]:
        console.print(f"  -e       {override}")
    console.print(
        f"\n[bold]release[/] {release['name']}: overcloud {release['overcloud']} → "
        f"{' → '.join(release['ffu_chain'][1:])}, undercloud {release['undercloud']}"
    )
    console.print(
        f"[bold]lab[/] {config['lab']['name']}: "
        + "; ".join(f"{role} = {', '.join(services)}" for role, services in plan["deploy"]["roles"].items())
    )
    nodes = Table("node", "role", "memory MiB", "vCPUs", "disk GiB", title="nodes", title_justify="left")
    for node in plan["nodes"]:
        nodes.add_row(node["name"], node["role"], str(node["memory"]), str(node["vcpus"]), str(node["disk"]))
    console.print(nodes)

    phases = Table("#", "phase", "what runs", title="phases", title_justify="left")
    for index, phase in enumerate(plan["phases"], 1):
        phases.add_row(str(index), phase["name"], phase["summary"])
    console.print(phases)

    deploy = plan["deploy"]
    console.print(f"\n[bold]deploy[/] at {deploy['release']}: {_versions(deploy['versions'])}")
    ffu = plan["ffu"]
    for release_plan in ffu["releases"]:
        path = "slurp (skip-level)" if plan["ffu"].get("path") == "slurp" else "ffu"
        console.print(
            f"\n[bold]{path} → {release_plan['release']}[/] ({_versions(release_plan['versions'])})"
        )
        for step in release_plan["steps"]:
            head = f"  {step['step']} {step['title']:<40} {step['scope']:<9}"
            if not step["runs"]:
                console.print(f"{head} [dim]nothing for this lab[/]")
            for index, run in enumerate(step["runs"]):
                lead = head if index == 0 else " " * len(head)
                console.print(f"{lead} {run['service']} @ {', '.join(run['nodes'])}: {run['does']}")
    final = ffu["final"]
    console.print(f"\n[bold]final deploy at {final['release']}[/] ({_versions(final['versions'])})")
    for run in final["runs"]:
        console.print(f"  {run['service']} @ {', '.join(run['nodes'])}: {run['does']}")


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items()) or "no OpenStack service"


def render_status(status: dict[str, Any]) -> None:
    console.print(f"[bold]lab[/] {status['lab']} in {status['workspace']}")
    virthost = status.get("virthost") or {}
    console.print(
        f"virthost {virthost.get('kind', '-')} ({virthost.get('uri', '-')}), "
        f"virt type {status.get('virt_type') or '-'}"
    )
    nodes = Table("node", "role", "domain", "IPMI power", "addresses", title="nodes", title_justify="left")
    for node in status["nodes"]:
        addresses = ", ".join(f"{kind} {ip}" for kind, ip in node["addresses"].items())
        nodes.add_row(node["name"], node["role"], node["power"], node["ipmi_power"] or "-", addresses)
    console.print(nodes)
    phases = Table("phase", "status", "seconds", title="phases", title_justify="left")
    for name, phase in status["phases"].items():
        phases.add_row(name, phase.get("status", "-"), str(phase.get("seconds", "")))
    console.print(phases)
    if overcloud := status.get("overcloud"):
        versions = ", ".join(f"{name} {version}" for name, version in sorted(overcloud["versions"].items()))
        apis = ", ".join(f"{name} {url}" for name, url in sorted((overcloud.get("apis") or {}).items()))
        console.print(f"overcloud at {overcloud['release']}: {versions or '-'}; APIs: {apis or '-'}")
    if status["snapshots"]:
        console.print("snapshots: " + ", ".join(s["name"] for s in status["snapshots"]))
