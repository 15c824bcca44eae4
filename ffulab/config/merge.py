"""Layer config mappings (later wins) and remember which file set each key.

Mappings merge key by key; any other value, lists included, is replaced whole by a
later layer. ``Origins`` maps every key path to the layer that last set it, so a
schema error deep in the merged result can still name the file to fix.
"""

from __future__ import annotations

import copy
from typing import Any

from ffulab.config.yamlio import parse_scalar
from ffulab.errors import ConfigError

Path_ = tuple[str | int, ...]
Origins = dict[Path_, str]


def _record(value: Any, path: Path_, source: str, origins: Origins) -> None:
    origins[path] = source
    if isinstance(value, dict):
        for key, item in value.items():
            _record(item, (*path, key), source, origins)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _record(item, (*path, index), source, origins)


def _forget_below(path: Path_, origins: Origins) -> None:
    for known in [p for p in origins if len(p) > len(path) and p[: len(path)] == path]:
        del origins[known]


def merge_into(
    base: dict[str, Any], layer: dict[str, Any], source: str, origins: Origins, path: Path_ = ()
) -> None:
    """Merge ``layer`` into ``base`` in place, recording ``source`` for every key it sets."""
    for key, value in layer.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            origins.setdefault(here, source)
            merge_into(base[key], value, source, origins, here)
        else:
            _forget_below(here, origins)
            base[key] = copy.deepcopy(value)
            _record(value, here, source, origins)


def origin_of(path: Path_, origins: Origins, default: str) -> str:
    """The layer that set ``path`` or its nearest recorded parent."""
    for end in range(len(path), 0, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return default


def format_path(path: Path_) -> str:
    """``('nodes', 'overcloud', 0, 'memory')`` → ``nodes.overcloud[0].memory``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _split_dotted(target: Any, dotted: str, option: str) -> Path_:
    """Split ``a.b.2024.1.c`` into keys, preferring existing keys that contain dots (series names)."""
    parts: list[str | int] = []
    rest = dotted
    node = target
    while rest:
        key = None
        if isinstance(node, dict):
            matches = [k for k in node if isinstance(k, str) and (rest == k or rest.startswith(k + "."))]
            key = max(matches, key=len) if matches else None
        if key is None:
            key = rest.split(".", 1)[0]
        if not key:
            raise ConfigError(option, dotted, "empty key in dotted path", "write -e section.key=value")
        rest = rest[len(key) + 1 :]
        if isinstance(node, list):
            if not key.isdigit():
                raise ConfigError(option, dotted, f"'{key}' must be a list index (0, 1, ...)")
            index = int(key)
            if index >= len(node):
                raise ConfigError(option, dotted, f"list index {index} is out of range (length {len(node)})")
            parts.append(index)
            node = node[index]
        else:
            parts.append(key)
            node = node.get(key) if isinstance(node, dict) else None
    return tuple(parts)


def apply_override(config: dict[str, Any], text: str, origins: Origins) -> None:
    """Apply one ``-e key.path=value`` to ``config``; malformed text is a ConfigError."""
    option = f"-e {text}"
    if "=" not in text:
        raise ConfigError(
            option, None, "malformed override: expected key=value", "e.g. -e nodes.undercloud.memory=4096"
        )
    dotted, raw = text.split("=", 1)
    dotted = dotted.strip()
    if not dotted:
        raise ConfigError(option, None, "malformed override: the key before '=' is empty")
    path = _split_dotted(config, dotted, option)
    node: Any = config
    for depth, part in enumerate(path[:-1], start=1):
        if isinstance(node, list):
            node = node[part]  # index checked by _split_dotted
            continue
        if not isinstance(node.get(part), dict | list):
            if part in node:
                raise ConfigError(option, dotted, f"'{part}' holds a value, not a section")
            node[part] = {}
            origins[path[:depth]] = option  # a section the override made up is the override's, not the file's
        node = node[part]
    value = parse_scalar(raw)
    node[path[-1]] = value
    _forget_below(path, origins)
    _record(value, path, option, origins)
