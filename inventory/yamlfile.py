"""YAML that remembers where each mapping key was written, so errors can name the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from remediate.inventory.model import inventory_error

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MarkedMap(dict):
    """A dict from YAML with ``line`` (where the mapping starts) and ``key_lines`` (1-based, per key)."""

    line: int | None = None
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


def _construct_map(loader: Any, node: yaml.MappingNode) -> Any:
    data = MarkedMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.duplicates = []
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        line = key_node.start_mark.line + 1
        if key in data.key_lines:
            data.duplicates.append((key, line))
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_lines[key] = line


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def load_yaml(text: str, source: str | Path) -> Any:
    """Parse YAML text; a syntax error or an alias bomb is a ConfigError naming the file, line and column (never the
    text)."""
    from remediate.yamlsafe import AliasBudgetError, load

    try:
        return load(text, _Loader)  # a safe loader, with the alias budget
    except AliasBudgetError as exc:
        raise inventory_error(source, exc.line, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = f", column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise inventory_error(source, line, f"invalid YAML{col}: {problem}") from None
    except yaml.YAMLError as exc:
        raise inventory_error(source, None, f"invalid YAML: {type(exc).__name__}") from None
