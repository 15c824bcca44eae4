"""The role scripts as the guests get them: rendered the way Ansible renders them, then ``bash -n``.

A broken here-document or quoting mistake in a template would otherwise show only in a TCG guest,
minutes into a deploy. Also: ansible-playbook --syntax-check of the playbooks, and the roles'
ffulab.yml descriptions against what the roles do.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import jinja2.nativetypes
import pytest
import yaml
from deploy_fakes import fake_index

from ffulab.config.resolve import resolve
from ffulab.deploy.credentials import AdminCredentials, render_clouds_yaml, render_overcloudrc
from ffulab.deploy.extravars import overcloud_extravars, undercloud_extravars
from ffulab.paths import data_root
from ffulab.provision.layout import allocate_subnets, build_layout, lab_id_for

ROOT = data_root()
ROLES = ROOT / "roles"
SCRIPTS = {
    "overcloud-controller-0": ["common", "timezone", "chrony", "mariadb", "memcached", "haproxy", "keystone"],
    "undercloud": ["undercloud", "credentials"],
}
SPECIAL = {
    "credentials": ("undercloud", "credentials.sh.j2"),
}
"""Scripts that are not ``roles/<role>/templates/<role>.sh.j2``: role and template."""


def _flatten(items: list) -> list:
    return [leaf for item in items for leaf in (_flatten(item) if isinstance(item, list) else [item])]


def ansible_filters(env: jinja2.Environment) -> jinja2.Environment:
    """The Ansible filters the roles use, as Ansible defines them."""
    env.filters["quote"] = lambda value: shlex.quote(str(value))
    env.filters["to_json"] = json.dumps
    env.filters["dict2items"] = lambda mapping: [{"key": k, "value": v} for k, v in mapping.items()]
    env.filters["urlsplit"] = lambda url, part: getattr(urlsplit(url), part)
    env.filters["extract"] = lambda key, container: container[key]
    env.filters["flatten"] = _flatten
    env.filters["regex_replace"] = lambda value, pattern, replacement="": re.sub(pattern, replacement, value)
    env.filters["bool"] = lambda value: value is True or str(value).lower() in ("yes", "on", "1", "true")
    env.filters["first"] = lambda items: next(iter(items))
    return env


def render(role: str, template: str, variables: dict) -> str:
    """Render like Ansible's template module and lookup: trim_blocks, role templates dir, its filters.
    ``template`` may be a path from the role's directory (``../common/templates/resources.sh.j2``, as
    ``{{ role_path }}/../common/...`` in a task's src)."""
    env = ansible_filters(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(ROLES / role / "templates"),
            trim_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
    )

    def lookup(kind: str, name: str) -> str:
        if kind == "ansible.builtin.file":
            return Path(name).read_text().rstrip("\n")
        return render(role, name, variables)

    env.globals["lookup"] = lookup
    if template.startswith("../"):
        source = env.from_string((ROLES / role / template).read_text())
    else:
        source = env.get_template(template)
    return source.render(**variables, role_path=str(ROLES / role))


def with_defaults(role: str, variables: dict) -> dict:
    """The role's defaults/main.yml on top of ``variables``, their own templates resolved."""
    defaults_file = ROLES / role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    merged = {**defaults, **variables}
    native = ansible_filters(jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined))

    def resolved(value):
        if isinstance(value, dict):
            return {key: resolved(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolved(item) for item in value]
        if isinstance(value, str) and "{{" in value:
            with contextlib.suppress(jinja2.UndefinedError):
                return native.from_string(value).render(**merged)
        return value

    for _ in range(4):  # defaults may refer to each other (keystone_version -> keystone_artifact)
        for key, value in merged.items():
            merged[key] = resolved(value)
    return merged


@pytest.fixture(scope="module")
def lab_variables(tmp_path_factory):
    return build_lab_variables(tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="module")
def glance_lab_variables(tmp_path_factory):
    """The glance-only lab's variables (the default job's lab has no glance)."""
    return build_lab_variables(tmp_path_factory.mktemp("ws"), job="ffu-glance")


def build_lab_variables(workspace: Path, job: str | None = None) -> dict:
    """Each host's variables as Ansible gives them to the roles, for ``job``'s lab (default job: None)."""
    resolved = resolve(job)
    config = resolved.config
    layout = build_layout(config, lab_id_for(config.lab.name, workspace), allocate_subnets([]))
    index = fake_index(resolved)
    overcloud = overcloud_extravars(config, resolved.catalog, layout, workspace, index)
    credentials = AdminCredentials(overcloud["identity"]["url"], overcloud["identity"]["admin_password"])
    overcloud["overcloud_clouds_yaml"] = render_clouds_yaml(credentials)
    overcloud["overcloud_rc"] = render_overcloudrc(credentials, layout.lab_id)
    hostvars = {node.name: {"ctlplane_ip": node.ctlplane_ip} for node in layout.nodes}
    common = {
        "groups": {"all": list(hostvars)},
        "hostvars": hostvars,
        "group_names": ["Controller", "overcloud"],
    }
    return {
        "overcloud-controller-0": {
            **overcloud, **common, "inventory_hostname": "overcloud-controller-0", "ffulab_action": "deploy",
            "ctlplane_ip": hostvars["overcloud-controller-0"]["ctlplane_ip"],
        },
        "undercloud": {
            **overcloud, **undercloud_extravars(config, layout, index), **common,
            "inventory_hostname": "undercloud", "ctlplane_ip": hostvars["undercloud"]["ctlplane_ip"],
            "resources_passwords": {
                service: f"ResourcesSeed{service}0123456789ab" for service in ("keystone", "glance")
            },
        },
    }  # fmt: skip


def scripts(lab_variables):
    for host, roles in SCRIPTS.items():
        for role in roles:
            name, template = SPECIAL.get(role, (role, f"{role}.sh.j2"))
            yield host, role, render(name, template, with_defaults(name, lab_variables[host]))


def test_every_role_script_is_valid_bash_and_ends_with_ffulab_done(lab_variables):
    for host, role, text in scripts(lab_variables):
        check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
        assert check.returncode == 0 and not check.stderr, f"{role} on {host}: {check.stderr}"
        assert text.rstrip().endswith("ffulab_done"), f"{role}: the last line must be ffulab_done"


def test_here_documents_are_closed_on_their_own_line(lab_variables):
    for _, role, text in scripts(lab_variables):
        lines = text.splitlines()
        opened = sum("<<'FFULAB_EOF'" in line or "<<FFULAB_EOF" in line for line in lines)
        assert lines.count("FFULAB_EOF") == opened, role


@pytest.mark.parametrize("action", ["install", "configure", "db_sync"])
def test_keystone_ffu_parts_are_valid_bash_and_do_only_their_part(lab_variables, action):
    variables = {**lab_variables["overcloud-controller-0"], "ffulab_action": action, "release": "2024.2"}
    text = render("keystone", "keystone.sh.j2", with_defaults("keystone", variables))
    check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0 and not check.stderr, check.stderr
    commands = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "/opt/openstack/keystone-26.1.1" in commands
    assert ("ffulab_venv " in commands) == (action == "install")
    assert ("keystone.conf 640" in commands) == (action == "configure")
    assert ('keystone-manage" db_sync' in commands) == (action == "db_sync")
    assert "bootstrap \\" not in commands and "ffulab_unit_active keystone" not in commands, (
        "FFU never starts it"
    )


def test_keystone_script_writes_the_centrally_generated_keys(lab_variables):
    variables = lab_variables["overcloud-controller-0"]
    text = render("keystone", "keystone.sh.j2", with_defaults("keystone", variables))
    repositories = {"fernet-keys": "fernet_keys", "credential-keys": "credential_keys"}
    for repository, keys in repositories.items():
        for name, key in variables["secrets"]["keystone"][keys].items():
            assert f"/etc/keystone/{repository}/{name} 600 keystone:keystone < <(printf %s {key})" in text
    commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if "fernet_setup" in line or "credential_setup" in line]
    assert "/opt/openstack/keystone-25.0.0" in text and "db_sync" in text and "bootstrap" in text


SECRET_FUNCTIONS = ("ffulab_identity_register", "ffulab_db_versions", "ffulab_schema_at_head")
"""ffulab-lib.sh functions that take a secret as an argument and hand it on only through an environment
variable (MYSQL_PWD, jq's $ENV) or stdin: a shell function's arguments are no process's argv."""
ALLOWED = ("printf", "export OS_BOOTSTRAP_PASSWORD=", "MYSQL_PWD=", "connection =", "IDENTIFIED BY",
           "password:", "OS_PASSWORD=", '"auth_url": ')  # fmt: skip
"""Words of a line that hands its secret to a builtin, an environment variable or a config file."""


def secret_on_a_command_line(text: str, secrets: list[str]) -> list[str]:
    """The first word of each line of ``text`` (continuations joined, here-documents skipped: they are
    stdin) holding one of ``secrets`` where a process's command line could show it: not a builtin or
    environment variable of ALLOWED, a pure assignment, or a call of SECRET_FUNCTIONS."""
    found, heredoc = [], False
    for line in text.replace("\\\n", " ").splitlines():
        if heredoc:
            heredoc = line != "FFULAB_EOF"
            continue
        heredoc = "<<'FFULAB_EOF'" in line or "<<FFULAB_EOF" in line
        if not any(secret in line for secret in secrets) or any(word in line for word in ALLOWED):
            continue
        command = re.sub(r"^\s*\w+\(\)\s*\{", "", line)  # a one-line function: its body
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        if words and (words[0] in SECRET_FUNCTIONS or all(re.match(r"^[A-Za-z_]\w*=", w) for w in words)):
            continue
        found.append(line.split()[0] + "...")
    return found


def test_secrets_never_reach_a_command_line_in_the_scripts(lab_variables):
    """Passwords go through files, here-documents, builtins (printf, export) or MYSQL_PWD, never argv."""
    variables = lab_variables["overcloud-controller-0"]
    secrets = [
        variables["identity"]["admin_password"],
        *(db["password"] for db in variables["databases"]),
        "ResourcesSeed",
    ]
    for _, role, text in scripts(lab_variables):
        assert not secret_on_a_command_line(text, secrets), f"{role}: a secret on a command line"


def test_the_secret_functions_of_the_lib_keep_secrets_off_command_lines():
    lib = (ROLES / "common" / "files" / "ffulab-lib.sh").read_text()
    for function in SECRET_FUNCTIONS:
        assert re.search(rf"^{function}\(\) \{{", lib, re.MULTILINE), f"ffulab-lib.sh has no {function}"
    assert not re.search(r'--arg \w+ "\$(password|FFULAB_ADMIN_PASSWORD)"', lib), "a password on jq's argv"
    uses = re.findall(r"[^ (]*\$\{?password\b", lib)
    assert uses and all(use == "FFULAB_SECRET=$password" for use in uses), uses


def test_the_secret_check_sees_what_it_should():
    secrets = ["S3cret"]
    flagged = "\n".join(["mariadb -pS3cret", "jq --arg p S3cret", "cmd a \\\n  --password S3cret"])
    assert secret_on_a_command_line(flagged, secrets) == ["mariadb...", "jq...", "cmd..."]
    safe = "\n".join([
        "cat <<'FFULAB_EOF'", "password = S3cret", "FFULAB_EOF", "A=x B=S3cret \\\n  C=y",
        "schema() { ffulab_db_versions u S3cret h d; }", "MYSQL_PWD=S3cret mariadb -e x",
    ])  # fmt: skip
    assert secret_on_a_command_line(safe, secrets) == []


GLANCE_ACTIONS = ("deploy", "stop", "mirror", "install", "configure", "db_sync", "check")
"""glance.sh.j2's actions: deploy, and the FFU steps' parts (roles/glance/defaults: glance_ffu_actions)."""


def glance_script(variables: dict, action: str, release: str) -> str:
    host = {**variables["overcloud-controller-0"], "ffulab_action": action, "release": release}
    return render("glance", "glance.sh.j2", with_defaults("glance", host))


def commands_of(text: str) -> str:
    """The role's own command lines: the embedded ffulab-lib.sh and comments left out."""
    lib = (ROLES / "common" / "files" / "ffulab-lib.sh").read_text().rstrip("\n")
    own = text.split(lib, 1)[-1]
    return "\n".join(line for line in own.splitlines() if not line.lstrip().startswith("#"))


def valid_bash(text: str) -> None:
    check = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0 and not check.stderr, check.stderr
    assert text.rstrip().endswith("ffulab_done"), "the last line must be ffulab_done"
    lines = text.splitlines()
    opened = sum("<<'FFULAB_EOF'" in line or "<<FFULAB_EOF" in line for line in lines)
    assert lines.count("FFULAB_EOF") == opened, "a here-document is not closed on its own line"


def glance_secrets(variables: dict) -> list[str]:
    host = variables["overcloud-controller-0"]
    return [host["identity"]["admin_password"], *host["secrets"]["glance"].values(), "ResourcesSeed"]


@pytest.mark.parametrize("release", ["2024.1", "2025.2"])
@pytest.mark.parametrize("action", GLANCE_ACTIONS)
def test_glance_scripts_are_valid_bash_and_keep_secrets_off_command_lines(
    glance_lab_variables, action, release
):
    text = glance_script(glance_lab_variables, action, release)
    valid_bash(text)
    assert not secret_on_a_command_line(text, glance_secrets(glance_lab_variables))
    version = glance_lab_variables["overcloud-controller-0"]["versions"] if release == "2024.1" else None
    assert f"/opt/openstack/glance-{version['glance'] if version else '31.1.0'}" in text


@pytest.mark.parametrize("action", GLANCE_ACTIONS[1:])
def test_glance_ffu_parts_do_only_their_part(glance_lab_variables, action):
    commands = commands_of(glance_script(glance_lab_variables, action, "2024.2"))
    assert "/opt/openstack/glance-29.2.1" in commands
    assert ("ffulab_units_stopped glance-api.service" in commands) == (action == "stop")
    assert ("curl --fail --silent --show-error --head" in commands) == (action == "mirror")
    assert ("ffulab_venv " in commands) == (action == "install")
    assert ("/etc/glance/glance-api-paste.ini" in commands) == (action == "configure")
    assert ("manage db sync" in commands) == (action == "db_sync")
    assert ("glance-status" in commands and "ffulab_schema_at_head" in commands) == (action == "check")
    assert "ffulab_unit_active" not in commands and "ffulab_identity_register" not in commands, (
        "the FFU never starts glance nor registers it: the final deploy does"
    )
    assert "load_metadefs" not in commands, "metadefs are loaded once, at the first deploy"


def test_glance_deploy_writes_its_config_and_serves_through_haproxy(glance_lab_variables):
    host = glance_lab_variables["overcloud-controller-0"]
    text = glance_script(glance_lab_variables, "deploy", "2024.1")
    conf = text[text.index('"$conf" 640 root:glance <<') :].split("\nFFULAB_EOF\n")[0]
    for line in ("enabled_backends = fs:file", "default_backend = fs", "flavor = keystone",
                 f"memcached_servers = {host['providers']['cache']['host']}:11211", "username = glance",
                 "filesystem_store_datadir = /var/lib/glance/images/",
                 "filesystem_store_datadir = /var/lib/glance/staging/",
                 f"password = {host['secrets']['glance']['service_password']}",
                 f"@{host['providers']['database']['host']}/glance?charset=utf8"):  # fmt: skip
        assert line in conf, f"glance-api.conf lacks {line!r}"
    commands = commands_of(text)
    for step in ("ffulab_venv ", "manage db sync",
                 "manage db load_metadefs --path \"$venv/etc/glance/metadefs\"",
                 "ffulab_wsgi_unit glance-api glance \"$venv\" glance_wsgi 9292 ",
                 "ffulab_unit_active glance-api.service", "ffulab_identity_register glance image ",
                 f"ffulab_answers {host['apis']['glance']['url']} "):  # fmt: skip
        assert step in commands, f"the deploy lacks {step!r}"
    assert commands.index("manage db sync") < commands.index("ffulab_unit_active glance-api.service"), (
        "the schema is synced before the unit starts"
    )


def test_glance_resources_script_is_valid_and_its_program_compiles(glance_lab_variables):
    host = {
        **glance_lab_variables["undercloud"], "ffulab_script": "glance", "ffulab_action": "verify",
    }  # fmt: skip
    variables = with_defaults("glance", host)
    variables["ffulab_resources_spec"] = variables["glance_resources_spec"]
    text = render("glance", "../common/templates/resources.sh.j2", variables)
    valid_bash(text)
    assert not secret_on_a_command_line(text, glance_secrets(glance_lab_variables))
    spec, program = text.split("<<'FFULAB_EOF'\n")[1:3]
    spec = json.loads(spec.split("\nFFULAB_EOF\n")[0])
    assert spec["image_url"] == host["apis"]["glance"]["url"] and spec["seed"].startswith("ResourcesSeed")
    assert {image["visibility"] for image in spec["resources"]["images"]} == {
        "public", "private", "shared", "community"
    }  # fmt: skip
    compile(program.split("\nFFULAB_EOF\n")[0], "glance resources", "exec")


def test_keystone_resources_run_in_the_common_runner(lab_variables):
    """keystone's items after the runner every service shares: one program, the spec off argv."""
    host = {**lab_variables["undercloud"], "ffulab_script": "keystone", "ffulab_action": "create"}
    variables = with_defaults("keystone", host)
    variables["ffulab_resources_spec"] = variables["keystone_resources_spec"]
    text = render("keystone", "../common/templates/resources.sh.j2", variables)
    valid_bash(text)
    assert not secret_on_a_command_line(text, [host["identity"]["admin_password"], "ResourcesSeed"])
    spec, program = text.split("<<'FFULAB_EOF'\n")[1:3]
    spec = json.loads(spec.split("\nFFULAB_EOF\n")[0])
    assert spec["auth_url"] == host["apis"]["keystone"]["url"] and spec["seed"].startswith("ResourcesSeed")
    program = program.split("\nFFULAB_EOF\n")[0]
    assert program.index("def run(") < program.index("class Resources") < program.index('main("keystone"')
    compile(program, "keystone resources", "exec")


def test_glance_image_data_is_deterministic_and_no_disk_format():
    namespace: dict = {"hmac": hmac, "hashlib": hashlib, "request": None, "__name__": "glance_resources"}
    exec(compile((ROLES / "glance" / "files" / "glance_resources.py").read_text(), "g", "exec"), namespace)
    image_bytes = namespace["image_bytes"]
    data = image_bytes("seed", "ffulab-image-public", 320)
    assert len(data) == 320 * 1024 and data == image_bytes("seed", "ffulab-image-public", 320)
    assert data != image_bytes("seed", "ffulab-image-private", 320)
    assert data != image_bytes("other-lab", "ffulab-image-public", 320)
    assert data.startswith(b"ffulab resources image ffulab-image-public\n") and data[510:512] == b"\0\0", (
        "a text header, no MBR boot signature"
    )


ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="needs ansible-core")
@pytest.mark.parametrize("playbook", ["undercloud.yml", "overcloud.yml", "resources.yml"])
def test_playbooks_pass_ansibles_syntax_check(playbook, tmp_path):
    inventory = tmp_path / "inventory.yml"
    controllers = {"Controller": {"hosts": {"overcloud-controller-0": {}}}}
    groups = {"undercloud": {"hosts": {"undercloud": {}}}, "overcloud": {"children": controllers}}
    inventory.write_text(yaml.safe_dump({"all": {"children": groups}}))
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "-i", str(inventory), str(ROOT / "playbooks" / playbook)],
        capture_output=True, text=True, env={"ANSIBLE_ROLES_PATH": str(ROLES), "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path)}, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_lab_service_has_a_deploy_role():
    catalog = resolve().catalog
    for service in catalog:
        assert (ROLES / service / "tasks" / "main.yml").is_file(), f"roles/{service}: no tasks/main.yml"


def test_every_role_is_free_of_python_modules_on_the_guests():
    """Guest tasks are raw or script (no Python in a TCG guest); only local rendering uses a module."""
    for tasks in ROLES.glob("*/tasks/*.yml"):
        for task in yaml.safe_load(tasks.read_text()) or []:
            modules = [key for key in task if key.startswith("ansible.builtin.")]
            for module in modules:
                if module not in (
                    "ansible.builtin.raw",
                    "ansible.builtin.script",
                    "ansible.builtin.include_tasks",
                    "ansible.builtin.set_fact",  # an action of the controller: nothing runs in the guest
                ):
                    where = f"{tasks.relative_to(ROLES)}: {task['name']}"
                    assert task.get("delegate_to") == "localhost", f"{where} runs {module} in the guest"


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_lib_helpers_put_and_report_changes(tmp_path):
    lib = (ROLES / "common" / "files" / "ffulab-lib.sh").read_text()
    target = tmp_path / "etc" / "x.conf"
    owner = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    put = f"ffulab_put {target} 640 {owner}:{group}"
    script = "\n".join(
        [
            lib,
            f"{put} < <(echo hello)",
            'echo "flag=$FFULAB_PUT_CHANGED"',
            f"{put} <<'FFULAB_EOF'",
            "hello",
            "FFULAB_EOF",
            'echo "flag=$FFULAB_PUT_CHANGED"',
            'ffulab_time "a step" true',
            "ffulab_done",
        ]
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.count("ffulab-changed:") == 1, "the second put of the same content changes nothing"
    assert f"ffulab-changed: {target}\nflag=1\nflag=0\n" in out
    assert "ffulab-step: a step 0." in out and out.endswith("ffulab-done\n")
    assert target.read_text() == "hello\n" and oct(target.stat().st_mode & 0o777) == "0o640"


def _parts_runner(tmp_path: Path, parts: dict[str, str]) -> subprocess.CompletedProcess:
    """roles/common/templates/parts.sh.j2 rendered for ``parts`` (service -> script) and run by bash."""
    rendered = []
    for service, script in parts.items():
        path = tmp_path / f"{service}.sh"
        path.write_text(script)
        rendered.append({"service": service, "action": "db_sync", "path": str(path)})
    text = render("common", "parts.sh.j2", {"common_parts": rendered})
    text = text.replace("/run/ffulab-parts.", f"{tmp_path}/parts.")
    return subprocess.run(["bash", "-c", text], capture_output=True, text=True, check=False, timeout=60)


def test_a_steps_parts_run_side_by_side_each_output_after_its_service(tmp_path):
    mark = tmp_path / "fast-ran"
    parts = {  # slow waits (10 s at most) for fast to have run: only side by side does it see it
        "slow": f"for i in $(seq 100); do [ -e {mark} ] && break; sleep 0.1; done\n"
        f"[ -e {mark} ] || echo 'slow ran alone'\n"
        "echo 'ffulab-check: upgrade-check ok slow'; echo ffulab-done",
        "fast": f"touch {mark}; echo 'ffulab-check: upgrade-check warning fast'; echo ffulab-done",
    }
    result = _parts_runner(tmp_path, parts)
    assert "slow ran alone" not in result.stdout, "the parts ran one after the other"
    assert result.returncode == 0 and result.stdout.endswith("ffulab-done\n"), result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("ffulab-step:")] == ["slow", "fast"]
    assert lines.index("ffulab-part: slow db_sync") < lines.index("ffulab-check: upgrade-check ok slow")
    assert lines.index("ffulab-part: fast db_sync") < lines.index("ffulab-check: upgrade-check warning fast")


def test_a_failed_part_fails_the_step_naming_it_its_output_last(tmp_path):
    parts = {"good": "echo fine; echo ffulab-done", "bad": "echo 'db sync: boom' >&2; exit 3", "ok": "true"}
    result = _parts_runner(tmp_path, parts)
    assert result.returncode == 1 and not result.stdout.endswith("ffulab-done\n")
    assert result.stdout.splitlines()[-3:-1] == ["ffulab-part: bad db_sync", "db sync: boom"]
    assert result.stdout.splitlines()[-1].startswith("ffulab-step: bad db_sync 0.")
    assert "failed: bad db_sync;" in result.stderr


@pytest.mark.parametrize(
    "script",
    sorted(path for path in ROLES.glob("*/files/*_resources.py") if path.parent.parent.name != "common"),
    ids=lambda path: path.stem,
)
def test_each_resources_program_defines_every_name_it_uses(script):
    """A service's resources script runs after the common runner as one program: ruff's undefined-name
    check on the two together (the file alone ignores F821, the runner's names being elsewhere)."""
    program = (ROLES / "common" / "files" / "ffulab_resources.py").read_text() + "\n" + script.read_text()
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821",
         "--stdin-filename", "program.py", "-"],
        input=program, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
