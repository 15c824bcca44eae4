"""ffulab-lib.sh's project "service": services registering side by side race to make it.

The functions run in bash with ``curl`` replaced by a function playing keystone: what its GET lists and
whether its POST makes the project or refuses it (409 Conflict: another service's create came first).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ffulab.paths import data_root

LIB = data_root() / "roles" / "common" / "files" / "ffulab-lib.sh"
FUNCTIONS = "/^ffulab_changed()/p;/^ffulab_identity() {/,/^}/p;/^ffulab_identity_service_project() {/,/^}/p"
KEYSTONE = """
curl() {
    case "$*" in
        *"-X GET"*) if [ -e "$made" ]; then echo '{"projects": [{"id": "p-1"}]}'
                    else echo '{"projects": []}'; fi ;;
        *"-X POST"*) cat > /dev/null
            case "$post" in
                make) touch "$made"; echo '{"project": {"id": "p-1"}}' ;;
                race) touch "$made"; echo "curl: (22) The requested URL returned error: 409" >&2; return 22 ;;
                fail) echo "curl: (22) The requested URL returned error: 500" >&2; return 22 ;;
            esac ;;
    esac
}
"""


def project(tmp_path, exists: bool, post: str) -> subprocess.CompletedProcess[str]:
    made = tmp_path / "made"
    if exists:
        made.touch()
    script = f"""set -euo pipefail
source <(sed -n '{FUNCTIONS}' {LIB})
made={made} post={post}
{KEYSTONE}
FFULAB_TOKEN_HEADER=/dev/null FFULAB_IDENTITY_URL=http://127.0.0.1:9/v3
ffulab_identity_service_project
echo "project=$FFULAB_SERVICE_PROJECT"
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False, timeout=30)


pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq (the guests have it)")


def test_an_existing_project_is_taken_and_nothing_changes(tmp_path):
    result = project(tmp_path, exists=True, post="fail")
    assert result.returncode == 0 and result.stdout == "project=p-1\n"


def test_a_missing_project_is_made_and_said_changed(tmp_path):
    result = project(tmp_path, exists=False, post="make")
    assert result.returncode == 0
    assert result.stdout == "ffulab-changed: identity project service\nproject=p-1\n"


def test_a_create_refused_because_another_service_made_it_takes_theirs(tmp_path):
    result = project(tmp_path, exists=False, post="race")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "project=p-1\n"


def test_no_project_and_no_create_fails_saying_so(tmp_path):
    result = project(tmp_path, exists=False, post="fail")
    assert result.returncode != 0
    assert "no project service, and making it failed" in result.stderr
