"""YAML read with a budget: aliases may not expand a document past a small number of nodes.

PyYAML shares the object an alias names, so a "billion laughs" document (``a: &a [x, x]``, ``b: &b [*a, *a]``,
...) loads quickly and small, but anything that walks it (merging variables, expanding groups, printing it) visits
every path: 2**30 of them for thirty lines. Every YAML the tool reads goes through :func:`load` (inventories,
``--params-file``, lab state and machine files): the composed node graph is measured before anything is built,
and a document whose aliases would add more than :data:`MAX_ALIAS_NODES` nodes, or that refers to itself, or
nests deeper than :data:`MAX_DEPTH` (libyaml's composer would overflow the C stack and kill the process), is
refused with :class:`AliasBudgetError` (a ``yaml.YAMLError``).
"""

from __future__ import annotations

import re
from typing import IO, Any

import yaml

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "AliasBudgetError", "check_node", "load"]

#: Nodes that aliases may add to a document, beyond the nodes written in it.
MAX_ALIAS_NODES = 50_000
#: Nesting of sequences and mappings.
MAX_DEPTH = 200

_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasBudgetError(yaml.YAMLError):
    """A document whose aliases expand past the budget (or refer to themselves), or that nests too deep."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line  # 1-based line of the node that went over, when known

    def __str__(self) -> str:
        return self.message


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_node(node: yaml.Node | None, max_alias_nodes: int = MAX_ALIAS_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Measure a composed document: raise :class:`AliasBudgetError` past the budget. Linear in the written nodes."""
    if node is None:
        return
    size: dict[int, int] = {}  # id(node) -> expanded size of its subtree
    written = 0
    # Iterative post-order walk; a node met again on the current path is a self-reference.
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, done = stack.pop()
        key = id(current)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(current))
            size[key] = total
            if total - written > max_alias_nodes:
                line = current.start_mark.line + 1 if current.start_mark else None
                raise AliasBudgetError(
                    f"YAML aliases expand this document past {max_alias_nodes} extra nodes (an alias bomb?)", line
                )
            continue
        if key in size:
            continue
        if key in on_path:
            line = current.start_mark.line + 1 if current.start_mark else None
            raise AliasBudgetError("a YAML alias refers to a node that contains it", line)
        if depth > max_depth:
            line = current.start_mark.line + 1 if current.start_mark else None
            raise AliasBudgetError(f"YAML nested deeper than {max_depth} levels", line)
        written += 1
        on_path.add(key)
        stack.append((current, depth, True))
        for child in reversed(_children(current)):
            if id(child) in on_path:
                line = child.start_mark.line + 1 if child.start_mark else None
                raise AliasBudgetError("a YAML alias refers to a node that contains it", line)
            if id(child) not in size:
                stack.append((child, depth + 1, False))


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def _check_nesting(text: str) -> None:
    """Refuse, before libyaml sees it, a text nested deeper than :data:`MAX_DEPTH`: libyaml composes nested
    collections recursively and a few tens of thousands of ``[`` overflow the C stack (the process dies).
    Brackets inside quoted strings count too: no real file has hundreds of them open at once."""
    depth = worst = 0
    for ch in _NOT_BRACKET.sub("", text):
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        worst = max(worst, depth)
    if worst > MAX_DEPTH:
        raise AliasBudgetError(f"YAML nested deeper than {MAX_DEPTH} levels")
    indent = max((len(m) for m in _INDENT.findall(text)), default=0)
    if indent > 4 * MAX_DEPTH:
        raise AliasBudgetError(f"YAML indented deeper than {4 * MAX_DEPTH} columns")


def load(stream: str | bytes | IO[Any], loader: Any = None) -> Any:
    """``yaml.load`` with a safe loader (``loader`` must be one) and the alias budget checked before building."""
    if not isinstance(stream, (str, bytes)):
        stream = stream.read()
    if isinstance(stream, bytes):
        stream = stream.decode("utf-8")
    _check_nesting(stream)
    # An alias needs an anchor: a document without "&" has none, and only its nesting needs watching.
    anchored = "&" in stream
    instance = (loader or _SafeLoader)(stream)
    try:
        node = instance.get_single_node()
        if anchored:
            check_node(node)
        return instance.construct_document(node) if node is not None else None
    except RecursionError:
        raise AliasBudgetError("YAML nested too deep to read") from None
    finally:
        instance.dispose()
