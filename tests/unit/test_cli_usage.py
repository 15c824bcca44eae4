"""Every command form that README.md, docs/design.md and ``--help`` show parses as written.

The forms are read from the documents themselves (the ``ffulab ...`` lines of their "Command line"
blocks) and from each subcommand's usage line; each is expanded into concrete command lines (every
``a|b|c`` alternative; all optional parts, none, and each one alone; placeholders such as WS or NAME
replaced by sample values) and given to the real argument parser.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

import pytest

from ffulab import cli

REPO = Path(__file__).resolve().parents[2]
SAMPLES = {
    "WS": "/tmp/ffulab-usage-ws",
    "WORKING_DIR": "/tmp/ffulab-usage-ws",
    "NAME": "s1",
    "JOB": "ffu-keystone-only",
    "REL": "2025.1",
    "RELEASE": "2025.1",
    "R": "2025.1",
    "LAB": "keystone-only",
    "NODES": "1ctlr",
    "N": "6",
    "S": "6",
    "PHASES": "virthost,image",
    "TAGS": "virthost,image",
    "SKIP_TAGS": "ffu",
    "KIND": "sandbox",
    "VIRTHOST": "sandbox",
    "DIR": "/tmp/ffulab-usage-dir",
    "RE": "^tempest\\.api\\.identity\\.",
    "NODE": "undercloud",
    "CMD...": "uname -r",
    "...": "uname -r",
    "KEY=VALUE": "nodes.overcloud.0.memory=4096",
    "SERVICE": "keystone",
    "SERIES": "2024.1",
    "LABEL": "debian-bookworm",
    "PROJECT": "example.org/ffulab",
}


# --- the forms, as documented -------------------------------------------------------------------


def documented_forms(path: Path, heading: str) -> list[tuple[str, str]]:
    """The ``ffulab COMMAND ...`` forms of the first code block under ``heading`` as (command, syntax),
    continuation lines joined.

    A form's syntax ends at the first run of two or more spaces (the description column); a line that
    continues a form starts with a flag or ``[``, any other indented line is description.
    """
    text = path.read_text()
    section = text[text.index(heading) :]
    block = section.split("```")[1]
    forms: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line.startswith("ffulab "):
            command, rest = re.match(r"ffulab\s+(\S+)\s*(.*)", line).groups()
            forms.append((command, re.split(r"\s{2,}", rest)[0]))
        elif line[:1].isspace() and line.strip()[:1] in ("[", "-") and forms:
            command, syntax = forms[-1]
            forms[-1] = (command, syntax + " " + re.split(r"\s{2,}", line.strip())[0])
    assert forms, f"no 'ffulab ...' forms found under {heading!r} in {path}"
    return forms


def help_forms() -> list[tuple[str, str]]:
    """Each leaf subcommand's usage line as ``--help`` prints it, as (command words, syntax)."""
    forms: list[tuple[str, str]] = []

    def walk(parser: argparse.ArgumentParser) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
            command = parser.prog.removeprefix("ffulab ")
            forms.append((command, usage.removeprefix(parser.prog).replace("[-h]", "").strip()))
        for action in subparsers:
            for child in dict.fromkeys(action.choices.values()):
                walk(child)

    walk(cli.build_parser())
    return forms


# --- expanding a form into command lines --------------------------------------------------------


def _tokens(syntax: str) -> list[str]:
    return re.findall(r"\[|\]|[^\s\[\]]+", syntax)


def _parse(tokens: list[str]) -> list[list]:
    """A sequence as its alternatives (split at a lone ``|``); items are words or ``("opt", seq)``."""
    alternatives: list[list] = [[]]
    while tokens:
        token = tokens.pop(0)
        if token == "]":
            break
        if token == "[":
            alternatives[-1].append(("opt", _parse(tokens)))
        elif token == "|":
            alternatives.append([])
        else:
            alternatives[-1].append(token)
    return alternatives


def _words(token: str, placeholder) -> list[list[str]]:
    """The concrete argv pieces one token stands for (alternatives ``a|b`` and ``{a,b}`` expanded)."""
    if token.startswith("{") and token.endswith("}"):
        return [[choice] for choice in token[1:-1].split(",")]
    if token.startswith("-"):
        return [[token]]
    if placeholder(token):
        return [SAMPLES.get(token, "sample").split()]
    return [[choice] for choice in token.split("|")]


def _expand(alternatives: list[list], include, placeholder) -> list[list[str]]:
    lines: list[list[str]] = []
    for sequence in alternatives:
        parts: list[list[list[str]]] = []
        for item in sequence:
            if isinstance(item, tuple):
                parts.append(_expand(item[1], lambda _: True, placeholder) if include(item) else [[]])
            else:
                parts.append(_words(item, placeholder))
        lines += [
            [word for piece in combination for word in piece] for combination in itertools.product(*parts)
        ]
    return lines


def command_lines(command: str, syntax: str, placeholder) -> list[list[str]]:
    """All optional parts, none, and each one alone; every alternative of every word."""
    tree = _parse(_tokens(syntax))
    optionals = [item for sequence in tree for item in sequence if isinstance(item, tuple)]
    choices = [lambda _: True, lambda _: False] + [lambda item, one=one: item is one for one in optionals]
    lines: list[list[str]] = []
    for include in choices:
        for line in _expand(tree, include, placeholder):
            line = [*command.split(), *line]
            if line not in lines:
                lines.append(line)
    return lines


def _documented_placeholder(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z_]*(\.\.\.)?", token))


def _help_placeholder(token: str) -> bool:
    return not token.startswith(("-", "{"))


# --- the checks ----------------------------------------------------------------------------------


def _values(namespace: argparse.Namespace) -> set[str]:
    values: set[str] = set()
    for value in vars(namespace).values():
        for item in value if isinstance(value, list) else [value]:
            values.add(str(item))
    return values


def assert_parses(form: str, argv: list[str]) -> None:
    parser = cli.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"documented form {form!r}: 'ffulab {' '.join(argv)}' is refused (exit {exc.code})")
    given = {word for word in argv if not word.startswith("-")} - set(form.split(":")[1].split()[:1])
    missing = given - _values(args) - {"uname", "-r"}
    assert not missing, f"'ffulab {' '.join(argv)}' ({form}) parsed, but {missing} went nowhere: {args}"
    assert callable(args.func)


DOCUMENTED = [
    *((f"README: ffulab {c} {s}", c, s) for c, s in documented_forms(REPO / "README.md", "## Command line")),
    *(
        (f"design: ffulab {c} {s}", c, s)
        for c, s in documented_forms(REPO / "docs" / "design.md", "## Command line (the contract")
    ),
]


@pytest.mark.parametrize(("where", "command", "syntax"), DOCUMENTED, ids=[w for w, _, _ in DOCUMENTED])
def test_documented_form_parses_as_written(where, command, syntax, capsys):
    lines = command_lines(command, syntax, _documented_placeholder)
    assert lines
    for argv in lines:
        assert_parses(where, argv)


@pytest.mark.parametrize(("command", "syntax"), help_forms(), ids=[c for c, _ in help_forms()])
def test_help_usage_parses_as_written(command, syntax, capsys):
    for argv in command_lines(command, syntax, _help_placeholder):
        assert_parses(f"--help: ffulab {command} {syntax}", argv)


def test_documents_cover_every_command():
    documented = {command for _, command, _ in DOCUMENTED}
    commands = {command.split()[0] for command, _ in help_forms()}
    assert commands <= documented, (
        f"commands missing from README/design command lines: {commands - documented}"
    )


def test_snapshot_name_after_the_workspace_flag_is_the_name():
    args = cli.build_parser().parse_args(["snapshot", "create", "-w", "/tmp/ws", "s1"])
    assert (args.action, args.name, args.working_dir) == ("create", "s1", Path("/tmp/ws"))


def test_snapshot_create_on_a_directory_without_a_lab_says_so(tmp_path, capsys):
    code = cli.main(["snapshot", "create", "-w", str(tmp_path / "nonexistent"), "s1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "no lab here" in err
    assert "Traceback" not in err
    assert not (tmp_path / "nonexistent").exists(), "a usage error creates nothing"
