"""The Tempest pin in the config: one release for the whole chain, checked like every other key."""

from __future__ import annotations

from plan_errors import plan_error

from ffulab.config.resolve import resolve


def test_the_default_job_pins_tempest_of_2025_2_for_its_chain():
    config = resolve().config
    assert config.tempest is not None
    assert (config.tempest.version, config.tempest.constraints, config.tempest.concurrency) == (
        "45.0.0", "2025.2", 2,
    )  # fmt: skip  # two stestr workers: the default job's override (one is common.yml's)
    assert config.tempest.constraints in config.release.ffu_chain


def test_the_2023_1_job_takes_the_tempest_that_supports_its_chain():
    config = resolve(job="ffu-keystone-only-2023.1").config
    assert (config.tempest.version, config.tempest.constraints) == ("41.0.0", "2024.2")


def test_an_unknown_constraints_series_is_named(capsys):
    message = plan_error(capsys, "-e", "tempest.constraints=2099.1")
    assert "tempest.constraints: unknown series '2099.1'" in message


def test_concurrency_is_bounded(capsys):
    message = plan_error(capsys, "-e", "tempest.concurrency=0")
    assert "tempest.concurrency" in message


def test_a_job_validating_with_tempest_needs_a_pin(data_root, capsys):
    common = data_root / "release-configs" / "common.yml"
    text = common.read_text()
    start = text.index("tempest:\n")
    common.write_text(text[:start] + text[text.index("\nseries:", start) :])
    message = plan_error(capsys, "-j", "ffu-core")
    assert "job 'ffu-core' validates with Tempest but no Tempest is pinned" in message


def test_a_job_without_tempest_needs_no_pin(data_root):
    common = data_root / "release-configs" / "common.yml"
    text = common.read_text()
    start = text.index("tempest:\n")
    common.write_text(text[:start] + text[text.index("\nseries:", start) :])
    assert resolve(job="ffu-minimal").config.tempest is None
