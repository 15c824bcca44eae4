"""``ffulab job export --zuul DIR``: Zuul job definitions for the shipped jobs, so that a CI operator
spreads them over many virthosts with Zuul instead of anything home-made.

DIR gets ``zuul.d/ffulab.yaml`` (a one-node nodeset, an abstract base job with the playbooks, one
job per ``jobs/*.yml``) and ``playbooks/ffulab/{pre,run,post}.yaml``: pre-run prepares the virthost
(``scripts/bootstrap``, ``ffulab virthost prepare``), run calls ``ffulab job run``, post-run puts
the artifacts under ``zuul-output/logs/ffulab`` (which the usual base job's fetch-output uploads)
and links report.html on the build page. Copy DIR into a config or untrusted project of the tenant.
The config is written as data through YAML's safe dumper, so it loads with Zuul's safe loader.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from ffulab.job.listing import JobInfo

NODESET = "ffulab-virthost"
BASE_JOB = "ffulab-base"
NODE = "virthost"
PLAYBOOK_DIR = "playbooks/ffulab"
PLAYBOOKS = Path(__file__).parent / "zuul_playbooks"
"""pre-run, run and post-run, shipped as they are: everything they vary on is a variable of the job."""
CONFIG_FILE = "zuul.d/ffulab.yaml"
TIMEOUT = 3 * 3600
"""Seconds for pre-run + run: a cold default job under TCG is about an hour, a bigger lab more."""
POST_TIMEOUT = 1800
DEFAULT_LABEL = "debian-bookworm"
HEADER = """\
# Zuul jobs for ffulab, written by `ffulab job export --zuul` (one job per jobs/*.yml);
# regenerate instead of editing. Each job takes one {label!r} node as the virthost (root,
# 2+ cores, 8+ GiB, nested KVM optional: TCG works) and leaves its artifacts in
# zuul-output/logs/ffulab, which the base job's fetch-output role uploads.
"""


def _src_dir(project: str | None) -> str:
    """Where Zuul checked out ffulab on the node (its src_dir is relative to the user's home)."""
    src = f"zuul.projects['{project}'].src_dir" if project else "zuul.project.src_dir"
    return f"{{{{ ansible_user_dir }}}}/{{{{ {src} }}}}"


def zuul_config(jobs: list[JobInfo], label: str = DEFAULT_LABEL, project: str | None = None) -> list[dict]:
    """The stanzas of ``zuul.d/ffulab.yaml``. ``project``: ffulab's canonical name in the tenant
    when the jobs run for another project (then ffulab is a required project)."""
    base: dict[str, Any] = {
        "name": BASE_JOB,
        "abstract": True,
        "description": "Run one ffulab job (jobs/*.yml) on a fresh lab on the virthost node.",
        "nodeset": NODESET,
        "timeout": TIMEOUT,
        "post-timeout": POST_TIMEOUT,
        "pre-run": f"{PLAYBOOK_DIR}/pre.yaml",
        "run": f"{PLAYBOOK_DIR}/run.yaml",
        "post-run": f"{PLAYBOOK_DIR}/post.yaml",
        "vars": {
            "ffulab_src_dir": _src_dir(project),
            "ffulab_virthost": "sandbox",
            "ffulab_artifacts": "{{ ansible_user_dir }}/ffulab-artifacts",
        },
    }
    if project:
        base["required-projects"] = [project]
    stanzas: list[dict] = [
        {"nodeset": {"name": NODESET, "nodes": [{"name": NODE, "label": label}]}},
        {"job": base},
    ]
    for job in jobs:
        stanzas.append(
            {
                "job": {
                    "name": job.name,
                    "parent": BASE_JOB,
                    "description": f"{job.description} ({job.file})".strip(),
                    "vars": {"ffulab_job": job.name},
                }
            }
        )
    return stanzas


def export_zuul(
    dest: Path, jobs: list[JobInfo], label: str = DEFAULT_LABEL, project: str | None = None
) -> list[Path]:
    """Write the Zuul config and playbooks under ``dest``; return the files written."""
    config = dest / CONFIG_FILE
    config.parent.mkdir(parents=True, exist_ok=True)
    stanzas = yaml.safe_dump(zuul_config(jobs, label, project), sort_keys=False, width=110)
    config.write_text(HEADER.format(label=label) + stanzas)
    written = [config]
    for source in sorted(PLAYBOOKS.glob("*.yaml")):
        path = dest / PLAYBOOK_DIR / source.name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        written.append(path)
    return written
