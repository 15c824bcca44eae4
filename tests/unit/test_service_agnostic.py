"""The package knows no service by name: service knowledge lives in roles/<service>/ and its ffulab.yml."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import ffulab
from ffulab.paths import data_root

SKIPPED = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT)


def _service_names() -> list[str]:
    """Every role with a catalog entry, plus the services the issue names that have no role yet."""
    roles = [path.parent.name for path in (data_root() / "roles").glob("*/ffulab.yml")]
    return sorted({*roles, "keystone", "placement", "glance", "cinder", "neutron", "nova", "swift"})


def _code_tokens(source: str):
    """The tokens of ``source`` that are code: no comment, no docstring (a string that is a statement)."""
    previous = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            continue
        is_statement = previous is None or previous.type in SKIPPED or previous.string == ":"
        if not (token.type == tokenize.STRING and is_statement):
            yield token
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token


def test_no_module_names_a_service_outside_comments_and_docstrings():
    names = [n for n in _service_names() if n not in ("common", "timezone", "chrony", "haproxy")]
    word = re.compile(rf"\b({'|'.join(map(re.escape, names))})\b", re.IGNORECASE)
    found = []
    for path in sorted(Path(ffulab.__file__).parent.rglob("*.py")):
        for token in _code_tokens(path.read_text()):
            if word.search(token.string):
                found.append(f"{path.name}:{token.start[0]}: {token.string[:60]}")
    assert found == [], "service names in code (put them in the roles' ffulab.yml): " + "; ".join(found)


def test_the_check_sees_a_service_named_in_code():
    source = '"""keystone in a docstring is fine."""\n# and nova in a comment\nURL = "http://keystone:5000"\n'
    assert [t.string for t in _code_tokens(source) if "keystone" in t.string] == ['"http://keystone:5000"']
