"""The state file: older layouts still load."""

import json
from pathlib import Path

from ffulab.state import State


def test_an_older_state_file_keeps_its_owned_resources(tmp_path: Path) -> None:
    """State files that listed the owned resources under ``resources`` still destroy everything."""
    (tmp_path / "state.json").write_text(
        json.dumps({"format": 1, "lab": "l", "phases": {}, "resources": [{"kind": "domain", "name": "d"}]})
    )
    assert State.load(tmp_path).resources("domain") == [{"kind": "domain", "name": "d"}]
