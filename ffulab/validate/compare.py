"""Baseline against final: the tests an FFU broke, by name (tripleo-upgrade's validation groups
before and after, made comparable)."""

from __future__ import annotations

from typing import Any

KINDS = ("tempest", "services")
SETUP_CLASS = "setUpClass ("


def _class_failures(results: dict[str, str]) -> list[str]:
    """Classes whose setUpClass failed: Tempest then reports no test of theirs, only that one error.

    subunit2junitxml names it ``setUpClass (tempest.api.x.Class)``.
    """
    return [
        test[len(SETUP_CLASS) :].rstrip(")") + "."
        for test, status in results.items()
        if test.startswith(SETUP_CLASS) and status == "failed"
    ]


def status_after(test: str, results: dict[str, str]) -> str:
    """The final status of ``test``: its own, ``failed`` when its class could not be set up, else missing."""
    if test in results:
        return results[test]
    if any(test.startswith(prefix) for prefix in _class_failures(results)):
        return "failed"
    return "missing"


def _plain(test: str) -> str:
    """A Tempest id without its attributes (``test_x[id-...,smoke]`` -> ``test_x``), as stestr lists it."""
    return test.split("[", 1)[0]


def compare(baseline: dict[str, Any], final: dict[str, Any]) -> dict[str, list[str]]:
    """The tests of the baseline, as the final validation saw them: ``regressions`` and ``not_run``.

    Only tests run both times are compared. A test the final run did not select (Tempest records what its
    regex selected; another ``--tempest-regex``) or whose check it did not run at all is ``not run``, not
    a regression. A selected test that passed at the baseline and failed, or has no result at all
    (Tempest died half way; its class could not be set up), is a regression. A test skipped after the
    FFU is not: the deployed release decides some of Tempest's feature flags, so a test may rightly
    stop applying.
    """
    found: dict[str, list[str]] = {"regressions": [], "not_run": []}
    for kind in KINDS:
        before = (baseline.get(kind) or {}).get("results") or {}
        check = final.get(kind) or {}
        after = check.get("results") or {}
        selected = {_plain(test) for test in check["selected"]} if "selected" in check else None
        for test, status in sorted(before.items()):
            if not after if selected is None else _plain(test) not in selected:
                found["not_run"].append(test)
            elif status == "passed" and status_after(test, after) in ("failed", "missing"):
                found["regressions"].append(test)
    return found


def regressions(baseline: dict[str, Any], final: dict[str, Any]) -> list[str]:
    """Tests that passed at the baseline and failed (or, selected, did not run) in the final validation."""
    return compare(baseline, final)["regressions"]
