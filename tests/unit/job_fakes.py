"""A whole run's state.json as the phases leave it, without a lab: for the artifact and report tests."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from ffulab.config.resolve import resolve
from ffulab.ffu.positions import positions
from ffulab.job.summary import build_summary
from ffulab.phases import PHASE_NAMES
from ffulab.state import FORMAT, LabState

T0 = 1_795_400_000.0
PHASE_SECONDS = {
    "config": 0.0,
    "virthost": 0.4,
    "image": 0.1,
    "provision": 31.7,
    "bmc": 35.5,
    "undercloud": 40.2,
    "overcloud": 160.3,
    "resources": 45.0,
    "ffu": 0.0,
    "validate": 300.0,
}
STEP_SECONDS = {1: 2.0, 2: 12.5, 3: 4.1, 4: 20.3, 5: 1.0, 6: 60.2, 7: 15.0, 8: 70.4, 9: 30.0}
TEMPEST = [
    f"tempest.api.identity.admin.v3.test_users.UsersV3TestJSON.test_{n}"
    for n in ("create", "update", "delete", "list", "get", "password")
]
SERVICES = ["tests/services/test_keystone.py::test_token", "tests/services/test_mariadb.py::test_alive"]
SECRET = "Sup3rS3cretValue0fTheLab42"


def _junit(path: Path, suite: str, results: dict[str, str]) -> None:
    cases = []
    for test, status in results.items():
        classname, _, name = test.rpartition(".")
        body = {"failed": "<failure message='boom'>boom</failure>", "skipped": "<skipped/>"}.get(status, "")
        cases.append(f'<testcase classname="{classname}" name="{name}" time="0.5">{body}</testcase>')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'<?xml version="1.0"?>\n<testsuite name="{suite}" tests="{len(cases)}">{"".join(cases)}'
        "</testsuite>\n"
    )


def _validation(artifacts: Path, run: str, release: str, failing: set[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"release": release, "ok": not failing}
    for kind, tests in (("tempest", TEMPEST), ("services", SERVICES)):
        results = {t: "failed" if t in failing else "passed" for t in tests}
        if kind == "tempest":
            results[tests[-1]] = "skipped"
        junit = artifacts / "validate" / run / f"{kind}.xml"
        _junit(junit, kind, results)
        statuses = list(results.values())
        record[kind] = {
            "passed": statuses.count("passed"),
            "failed": statuses.count("failed"),
            "skipped": statuses.count("skipped"),
            "seconds": 42.0,
            "junit": str(junit),
            "results": results,
        }
    return record


@functools.cache
def _resolved():
    return resolve(extra_vars=["settings.snapshots.auto=false"])


def fake_state(workspace: Path, fail_at: str | None = None, regress: bool = False) -> dict[str, Any]:
    """The state of a default-job run that passed, failed at phase ``fail_at`` (its later phases not
    run), or passed every phase with one Tempest test regressed. JUnit files go to the artifacts."""
    resolved = _resolved()
    config = resolved.config
    chain = config.release.ffu_chain
    state: dict[str, Any] = {
        "format": FORMAT,
        "lab": config.lab.name,
        "config": resolved.to_dict(),
        "phases": {},
    }
    state["layout"] = {
        "nodes": [
            {"name": "undercloud", "role": "undercloud"},
            {"name": "overcloud-controller-0", "role": "Controller"},
        ]
    }
    clock = T0
    steps: dict[str, Any] = {}
    for name in PHASE_NAMES:
        if name == "report":
            break
        started = clock
        if name == "ffu":
            for release, step in positions(chain):
                seconds = 120.0 if release == chain[-1] else STEP_SECONDS[step]
                steps[f"{release}/{step}"] = {
                    "status": "done",
                    "seconds": seconds,
                    "started": clock,
                    "ended": clock + seconds,
                }
                clock += seconds
        else:
            clock += PHASE_SECONDS.get(name, 60.0)
        seconds = round(clock - started, 1)
        if name == fail_at:
            state["phases"][name] = {
                "status": "failed",
                "seconds": seconds,
                "started": started,
                "ended": clock,
                "error": f"phase '{name}' failed: it broke",
            }
            break
        state["phases"][name] = {"status": "done", "seconds": seconds, "started": started, "ended": clock}
    at_n = config.series[chain[0]].services
    at_n3 = config.series[chain[-1]].services
    ffu_started = state["phases"].get("ffu", {}).get("started", T0)
    state["ffu"] = {
        "chain": chain,
        "release": chain[-1],
        "step": 10,
        "status": "done",
        "steps": steps,
        "downtime": {
            "identity": {
                "seconds": 95.0,
                "samples": 900,
                "interval": 1.0,
                "url": "http://192.0.2.10:5000/v3",
                "windows": [
                    {"start": ffu_started + 3, "end": ffu_started + 60},
                    {"start": ffu_started + 400, "end": ffu_started + 438},
                ],
            }
        },
        "checks": {
            release: {"keystone": {"upgrade-check": {"status": "ok", "detail": "every check succeeded"}}}
            for release in chain[1:]
        },
        "before": {"release": chain[0], "versions": dict(at_n)},
        "after": {"release": chain[-1], "versions": dict(at_n3)},
    }
    if fail_at:
        state["ffu"] = {}
    artifacts = workspace / "artifacts"
    if not fail_at:
        state["overcloud"] = {"release": chain[-1], "versions": dict(at_n3)}
        state["resources"] = {
            "created": [
                {"service": "keystone", "kind": "project", "name": "ffulab-survivor"},
                {"service": "keystone", "kind": "user", "name": "ffulab-user"},
            ],
            "verified": {"release": chain[-1], "items": 2, "ok": True, "failed": [], "seconds": 20.1},
        }
        state["validate"] = {
            "baseline": _validation(artifacts, "baseline", chain[0], set()),
            "final": _validation(artifacts, "final", chain[-1], {TEMPEST[1]} if regress else set()),
        }
    return copy.deepcopy(state)


def fake_workspace(workspace: Path, state: dict[str, Any]) -> None:
    """Workspace files log collection reads: run log, Ansible output and console logs, holding a secret."""
    import json

    logs = workspace / "logs"
    (logs / "ansible" / "20261123-131828-overcloud").mkdir(parents=True, exist_ok=True)
    (logs / "console").mkdir(exist_ok=True)
    (logs / "20261123-131619-job.log").write_text(f"deploy with password {SECRET}\n")
    (logs / "ansible" / "20261123-131828-overcloud" / "stdout").write_text(f"TASK [x]\nok {SECRET}\n")
    (logs / "console" / "undercloud.log").write_text("login:\n")
    (workspace / "secrets.json").write_text(json.dumps({"keystone_admin_password": SECRET}))
    (workspace / "state.json").write_text(json.dumps(state))


def summary_of(state: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    """``build_summary`` of a fake state dict (as state.json holds it)."""
    return build_summary(LabState.model_validate(state), error)
