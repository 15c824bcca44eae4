"""Counting JUnit files as subunit2junitxml (Tempest) and pytest (service checks) write them."""

from __future__ import annotations

import pytest

from ffulab.errors import FfulabError
from ffulab.validate.junit import count

TOKENS = "tempest.api.identity.v3.test_tokens.TokensV3Test"


def case(classname: str, name: str, body: str = "") -> str:
    return f'<testcase classname="{classname}" name="{name}" time="1.0">{body}</testcase>\n'


SUBUNIT2JUNITXML = (
    '<testsuite errors="1" failures="1" name="" tests="5" time="12.000">\n'
    + case(TOKENS, "test_create_token[id-6f8e,smoke]")
    + case(TOKENS, "test_validate_token[id-a9512]", '<failure type="x">Traceback...</failure>')
    # a class skipped or failing in setUpClass: subunit2junitxml splits its id at the last dot
    + case(
        "setUpClass (tempest.api.identity.v3.test_users", "IdentityV3UsersTest)", "<skipped>no PCI</skipped>"
    )
    + case(
        "setUpClass (tempest.api.identity.admin.v3.test_roles",
        "RolesV3TestJSON)",
        '<error type="x">e</error>',
    )
    + case("tempest.api.identity.v3.test_catalog.IdentityCatalogTest", "test_catalog_standardization[id-f0a]")
    + "</testsuite>\n"
)
KEYSTONE = "tests.services.test_keystone"
PYTEST = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4">\n'
    + case(KEYSTONE, "test_unit[overcloud-controller-0]")
    + case(KEYSTONE, "test_version[overcloud-controller-0]", '<failure message="26.1.1">x</failure>')
    + case("tests.services.test_mariadb", "test_databases[c-1]", '<skipped type="pytest.skip" message="m"/>')
    # a passed call whose teardown failed: pytest reports the test twice
    + case(KEYSTONE, "test_unit[overcloud-controller-0]", '<error message="failed on teardown">t</error>')
    + "</testsuite></testsuites>\n"
)


def test_subunit2junitxml_counts_and_names(tmp_path):
    path = tmp_path / "junit-tempest.xml"
    path.write_text(SUBUNIT2JUNITXML)
    counted = count(path)
    assert (counted["passed"], counted["failed"], counted["skipped"]) == (2, 2, 1)
    results = counted["results"]
    assert results[f"{TOKENS}.test_create_token[id-6f8e,smoke]"] == "passed"
    assert results[f"{TOKENS}.test_validate_token[id-a9512]"] == "failed"
    assert results["setUpClass (tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON)"] == "failed"
    assert results["setUpClass (tempest.api.identity.v3.test_users.IdentityV3UsersTest)"] == "skipped"


def test_pytest_counts_a_test_once_with_its_worst_status(tmp_path):
    path = tmp_path / "junit-services.xml"
    path.write_text(PYTEST)
    counted = count(path)
    assert (counted["passed"], counted["failed"], counted["skipped"]) == (0, 2, 1)
    assert counted["results"][f"{KEYSTONE}.test_unit[overcloud-controller-0]"] == "failed"


def test_an_empty_suite_counts_nothing(tmp_path):
    path = tmp_path / "empty.xml"
    path.write_text('<testsuite tests="0"></testsuite>')
    assert count(path) == {"passed": 0, "failed": 0, "skipped": 0, "results": {}}


def test_a_broken_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "junit-tempest.xml"
    path.write_text("<testsuite><testcase")
    with pytest.raises(FfulabError, match=r"junit-tempest\.xml: not a readable JUnit file"):
        count(path)
