"""Read YAML config files with errors that name the file and line.

Series names such as ``2024.1`` stay strings (plain YAML would turn ``2024.10`` into
the float ``2024.1``), and a key repeated in one mapping is an error, not a silent overwrite.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ffulab.errors import ConfigError

_SERIES = re.compile(r"^\d{4}\.\d+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader keeping series-like numbers as strings and refusing duplicate keys."""


def _float_or_series(loader: _Loader, node: yaml.ScalarNode) -> Any:
    if _SERIES.match(node.value):
        return node.value
    return loader.construct_yaml_float(node)


def _mapping_without_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first at line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _float_or_series)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def parse_scalar(text: str) -> Any:
    """Type a ``-e key=value`` value the way YAML would (``3072`` → int, ``true`` → bool)."""
    try:
        return yaml.load(text, Loader=_Loader) if text.strip() else ""
    except yaml.YAMLError:
        return text


def load_yaml(path: Path, label: str | None = None) -> dict[str, Any]:
    """Load one config file as a mapping; any problem is a ConfigError naming ``label`` (or the path)."""
    name = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, None, f"cannot read the file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = exc.problem or str(exc)
        raise ConfigError(name, None, f"YAML syntax error at {line}: {problem}", "fix the file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(name, None, f"YAML error: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(name, None, f"expected a mapping at the top level, got {type(data).__name__}")
    return data
