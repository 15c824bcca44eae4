"""ffulab job export --zuul: one Zuul job per jobs/*.yml that Zuul's own schema and parser accept."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from zuul_schema import STANZAS

from ffulab.job.listing import list_jobs
from ffulab.job.zuul import BASE_JOB, CONFIG_FILE, NODESET, export_zuul


@pytest.fixture
def exported(tmp_path) -> Path:
    export_zuul(tmp_path, list_jobs())
    return tmp_path


def _stanzas(root: Path) -> list[tuple[str, dict]]:
    return [next(iter(item.items())) for item in yaml.safe_load((root / CONFIG_FILE).read_text())]


def test_every_stanza_fits_zuuls_schema_and_every_job_is_exported(exported):
    stanzas = _stanzas(exported)
    for kind, body in stanzas:
        STANZAS[kind](body)
    jobs = {body["name"]: body for kind, body in stanzas if kind == "job"}
    assert set(jobs) == {BASE_JOB} | {job.name for job in list_jobs()}
    assert all(jobs[name]["parent"] == BASE_JOB for name in jobs if name != BASE_JOB)
    assert all(jobs[name]["vars"] == {"ffulab_job": name} for name in jobs if name != BASE_JOB)
    assert jobs[BASE_JOB]["nodeset"] == NODESET and jobs[BASE_JOB]["abstract"] is True
    for key in ("pre-run", "run", "post-run"):
        assert (exported / jobs[BASE_JOB][key]).is_file(), f"{key} playbook written"


def test_jobs_run_for_another_project_require_ffulab_and_run_from_its_checkout(tmp_path):
    export_zuul(tmp_path, list_jobs(), label="bookworm-8g", project="opendev.org/x/ffulab")
    stanzas = dict(_stanzas(tmp_path)[:2])
    assert stanzas["nodeset"]["nodes"] == [{"name": "virthost", "label": "bookworm-8g"}]
    assert stanzas["job"]["required-projects"] == ["opendev.org/x/ffulab"]
    assert "zuul.projects['opendev.org/x/ffulab'].src_dir" in stanzas["job"]["vars"]["ffulab_src_dir"]


def test_the_playbooks_pass_ansibles_syntax_check(exported, tmp_path):
    playbook = Path(sys.executable).with_name("ansible-playbook")
    if not playbook.exists():
        pytest.skip("ansible-core is not installed (extra 'lab')")
    stub = tmp_path / "library"
    stub.mkdir()
    (stub / "zuul_return.py").write_text("# Zuul's own action, present on its executors\n")
    inventory = tmp_path / "inventory"
    inventory.write_text("virthost\n")
    env = {**os.environ, "ANSIBLE_LIBRARY": str(stub), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(
        [
            str(playbook),
            "-i",
            str(inventory),
            "--syntax-check",
            *sorted((exported / "playbooks/ffulab").glob("*")),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zuuls_own_parser_loads_the_export(exported):
    """Runs where ``zuul`` is installed (pip install zuul); the unit tier uses the transcribed schema."""
    configloader = pytest.importorskip("zuul.configloader")
    from zuul import model
    from zuul.lib.ansible import AnsibleManager

    source = model.SourceContext("example.org/ffulab", "ffulab", "gerrit", "master", CONFIG_FILE)
    items = configloader.safe_load_yaml((exported / CONFIG_FILE).read_text(), source)
    context = configloader.ParseContext(
        connections=types.SimpleNamespace(connections={}),
        zuul_globals=None,
        system=None,
        ansible_manager=AnsibleManager(),
    )
    parsed = {}
    for item in items:
        ((kind, body),) = item.items()
        parser = context.nodeset_parser if kind == "nodeset" else context.job_parser
        parsed[body["name"]] = parser.fromYaml(body)
    assert context.error_list == []
    base = parsed[BASE_JOB]
    assert [playbook.path for playbook in base.run] == ["playbooks/ffulab/run.yaml"]
    assert parsed["ffu-keystone-only"].parent == BASE_JOB


def test_the_schema_rejects_a_misspelt_key_as_zuul_does(exported):
    import voluptuous

    base = next(body for kind, body in _stanzas(exported) if body["name"] == BASE_JOB)
    base["pre_run"] = base.pop("pre-run")
    with pytest.raises(voluptuous.MultipleInvalid, match="extra keys not allowed @ data\\['pre_run'\\]"):
        STANZAS["job"](base)
