"""ffulab-lib.sh's ffulab_units_masked: the units a node must not run, masked in one systemctl call that
a reload of another part beside it can make fail once (seen on a loaded compute lab's controller).

The function runs in bash with ``systemctl`` replaced by a function: which units exist, which are
masked, how many mask calls fail before one succeeds; every mask call is written to a file.
"""

from __future__ import annotations

import subprocess

from ffulab.paths import data_root

LIB = data_root() / "roles" / "common" / "files" / "ffulab-lib.sh"
FUNCTIONS = "/^ffulab_changed()/p;/^ffulab_units_masked() {/,/^}/p"
SYSTEMCTL = """
systemctl() {
    case "$1" in
        is-enabled) case " $masked " in *" $2 "*) echo masked ;; *) echo enabled ;; esac ;;
        cat) case " $exists " in *" $2 "*) return 0 ;; *) return 1 ;; esac ;;
        mask) echo "$*" >> "$calls"
              if [ "$(wc -l < "$calls")" -le "$failures" ]; then
                  echo "Failed to mask unit: Connection timed out" >&2; return 1
              fi ;;
    esac
}
"""


def masked(tmp_path, failures: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    calls = tmp_path / "calls"
    calls.touch()
    script = f"""set -euo pipefail
source <(sed -n '{FUNCTIONS}' {LIB})
exists="a.service b.socket c.socket" masked="c.socket" calls={calls} failures={failures}
FFULAB_RETRY_SECONDS=0
{SYSTEMCTL}
ffulab_units_masked "x does not run here" a.service b.socket c.socket gone.service
echo end
"""
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False, timeout=30)
    return result, calls.read_text().splitlines()


def test_the_units_to_mask_go_in_one_call_and_each_is_said_changed(tmp_path):
    result, calls = masked(tmp_path, failures=0)
    assert result.returncode == 0, result.stderr
    assert calls == ["mask --now --quiet a.service b.socket"], "not the masked one, not the missing one"
    assert result.stdout.splitlines() == [
        "ffulab-changed: a.service masked: x does not run here",
        "ffulab-changed: b.socket masked: x does not run here",
        "end",
    ]


def test_a_failed_call_is_tried_again(tmp_path):
    result, calls = masked(tmp_path, failures=2)
    assert result.returncode == 0 and len(calls) == 3 and result.stdout.endswith("end\n")
    assert "failed (try 2 of 3)" in result.stderr


def test_three_failed_calls_stop_the_script(tmp_path):
    result, calls = masked(tmp_path, failures=3)
    assert result.returncode == 1 and len(calls) == 3 and "end" not in result.stdout
    assert "failed 3 times" in result.stderr
