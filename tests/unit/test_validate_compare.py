"""Regressions: what passed at the baseline and failed (or did not run) after the FFU, by name."""

from __future__ import annotations

from ffulab.validate import regressions

TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"
ROLES = "tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON"


def record(tempest: dict[str, str], services: dict[str, str] | None = None) -> dict:
    return {
        "release": "x",
        "ok": True,
        "tempest": {"results": tempest},
        "services": {"results": services or {}},
    }


def test_passed_then_failed_is_a_regression_by_name():
    before = record({f"{TOKENS}.test_a": "passed", f"{TOKENS}.test_b": "passed"})
    after = record({f"{TOKENS}.test_a": "failed", f"{TOKENS}.test_b": "passed"})
    assert regressions(before, after) == [f"{TOKENS}.test_a"]


def test_a_service_check_regresses_too():
    check = "tests.services.test_keystone.test_version[overcloud-controller-0]"
    assert regressions(record({}, {check: "passed"}), record({}, {check: "failed"})) == [check]


def test_failed_before_or_skipped_after_is_not_a_regression():
    before = record({f"{TOKENS}.test_a": "failed", f"{TOKENS}.test_b": "passed"})
    after = record({f"{TOKENS}.test_a": "failed", f"{TOKENS}.test_b": "skipped"})
    assert regressions(before, after) == []


def test_a_class_that_cannot_be_set_up_fails_its_tests():
    before = record({f"{ROLES}.test_create": "passed", f"{TOKENS}.test_a": "passed"})
    after = record({f"setUpClass ({ROLES})": "failed", f"{TOKENS}.test_a": "passed"})
    assert regressions(before, after) == [f"{ROLES}.test_create"]


def test_a_test_missing_after_is_a_regression():
    before = record({f"{TOKENS}.test_a": "passed", f"{TOKENS}.test_b": "passed"})
    after = record({f"{TOKENS}.test_a": "passed"})
    assert regressions(before, after) == [f"{TOKENS}.test_b"]


def test_a_check_not_run_on_either_side_compares_nothing():
    before = record({f"{TOKENS}.test_a": "passed"})
    assert regressions(before, {"release": "x", "ok": True, "tempest": None, "services": None}) == []
