"""ffulab job list: the jobs under jobs/, each named after its file."""

from __future__ import annotations

import pytest

from ffulab.errors import ConfigError
from ffulab.job.listing import list_jobs


def test_the_shipped_jobs_are_listed_with_release_lab_and_nodes(data_root):
    jobs = {job.name: job for job in list_jobs()}
    assert {"ffu-keystone-only", "ffu-minimal"} <= set(jobs)
    default = jobs["ffu-keystone-only"]
    assert (default.release, default.lab, default.nodes) == (
        "master-undercloud-2024.1-overcloud",
        "keystone-only",
        "1ctlr",
    )
    assert default.file == "jobs/ffu-keystone-only.yml"


def test_a_job_named_unlike_its_file_is_refused(data_root):
    (data_root / "jobs" / "mine.yml").write_text("job: {name: other, release: r, lab: l, nodes: n}\n")
    with pytest.raises(ConfigError, match=r"job\.name: is 'other', not the file's name 'mine'"):
        list_jobs()


def test_a_job_without_its_lab_is_refused(data_root):
    (data_root / "jobs" / "mine.yml").write_text("job: {name: mine, release: r, nodes: n}\n")
    with pytest.raises(ConfigError, match=r"jobs/mine\.yml: job\.lab: required key is missing"):
        list_jobs()
