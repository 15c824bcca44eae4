"""``ffulab plan`` with bad input, for the config tests: exit 2 and one message, never a traceback."""

from __future__ import annotations

import pytest

from ffulab.cli import main


def plan_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``ffulab plan ARGV``, insist on exit 2 and an ``error:`` line; return it on one line."""
    code = main(["plan", *argv])
    captured = capsys.readouterr()
    assert code == 2, f"expected exit 2, got {code}; stderr: {captured.err}"
    assert "Traceback" not in captured.err
    message = " ".join(captured.err.split())
    assert message.startswith("error:"), message
    return message
