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


def regressions(baseline: dict[str, Any], final: dict[str, Any]) -> list[str]:
    """Tests that passed at the baseline and failed (or did not run at all) in the final validation.

    A test skipped after the FFU is not a regression: the deployed release decides some of Tempest's
    feature flags, so a test may rightly stop applying.
    """
    found: list[str] = []
    for kind in KINDS:
        before = (baseline.get(kind) or {}).get("results") or {}
        after = (final.get(kind) or {}).get("results") or {}
        if not before or not after:
            continue
        found += [
            test
            for test, status in sorted(before.items())
            if status == "passed" and status_after(test, after) in ("failed", "missing")
        ]
    return found
