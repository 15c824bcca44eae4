"""Regressions: what passed at the baseline and failed (or, selected, did not run) after the FFU, by name.

A test the final run did not select (another ``--tempest-regex``) is not compared: it is "not run".
"""

from __future__ import annotations

from ffulab.validate import regressions
from ffulab.validate.compare import compare

TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"
ROLES = "tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON"


def record(
    tempest: dict[str, str], services: dict[str, str] | None = None, selected: list[str] | None = None
) -> dict:
    """A validation R; ``selected``: what its Tempest regex selected (None: a record without it)."""
    check = {"results": tempest} if selected is None else {"results": tempest, "selected": selected}
    return {"release": "x", "ok": True, "tempest": check, "services": {"results": services or {}}}


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


def test_a_test_the_final_run_did_not_select_is_not_run_not_a_regression():
    """``ffulab validate --tempest-regex`` narrower than the baseline's: 16 of the baseline's tests run."""
    before = record({f"{TOKENS}.test_a[id-1,smoke]": "passed", f"{ROLES}.test_create[id-2]": "passed"})
    after = record({f"{TOKENS}.test_a[id-1,smoke]": "passed"}, selected=[f"{TOKENS}.test_a[id-1,smoke]"])
    assert compare(before, after) == {"regressions": [], "not_run": [f"{ROLES}.test_create[id-2]"]}
    assert regressions(before, after) == []


def test_a_selected_test_without_a_result_is_still_a_regression():
    """Selected, yet no result (Tempest died half way): that is no pass."""
    before = record({f"{TOKENS}.test_a": "passed", f"{TOKENS}.test_b": "passed"})
    after = record({f"{TOKENS}.test_a": "passed"}, selected=[f"{TOKENS}.test_a", f"{TOKENS}.test_b"])
    assert compare(before, after) == {"regressions": [f"{TOKENS}.test_b"], "not_run": []}


def test_selection_and_results_match_with_or_without_the_id_attributes():
    before = record({f"{TOKENS}.test_a[id-1,smoke]": "passed", f"{TOKENS}.test_b[id-2]": "passed"})
    after = record({f"{TOKENS}.test_a[id-1,smoke]": "failed"}, selected=[f"{TOKENS}.test_a"])
    assert compare(before, after) == {
        "regressions": [f"{TOKENS}.test_a[id-1,smoke]"],
        "not_run": [f"{TOKENS}.test_b[id-2]"],
    }


def test_a_class_not_selected_is_not_run_even_if_another_class_failed_set_up():
    before = record({f"{ROLES}.test_create": "passed", f"{TOKENS}.test_a": "passed"})
    after = record({f"setUpClass ({TOKENS})": "failed"}, selected=[f"{TOKENS}.test_a"])
    assert compare(before, after) == {
        "regressions": [f"{TOKENS}.test_a"],
        "not_run": [f"{ROLES}.test_create"],
    }


def test_a_check_the_final_run_did_not_run_lists_its_tests_as_not_run():
    before = record({f"{TOKENS}.test_a": "passed"}, {"tests.services.test_keystone.test_unit": "passed"})
    after = {"release": "x", "ok": True, "tempest": None, "services": {"results": {}}}
    assert compare(before, after) == {
        "regressions": [],
        "not_run": [f"{TOKENS}.test_a", "tests.services.test_keystone.test_unit"],
    }


def test_selected_tests_without_any_result_are_regressions_not_not_run():
    before = record({f"{TOKENS}.test_a": "passed"})
    after = record({}, selected=[f"{TOKENS}.test_a"])
    assert compare(before, after) == {"regressions": [f"{TOKENS}.test_a"], "not_run": []}
