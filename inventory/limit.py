"""``--limit`` patterns, as Ansible reads them.

A pattern is a list separated by commas (or colons, when that cannot be an IPv6 address or a range):
``all`` or ``*``, a host or group name, a glob (``web*``, ``db-?``), a regex (``~web\\d+``), an optional subscript
(``web[0]``, ``web[1:3]``), ``&group`` (intersection) and ``!group`` (exclusion). Plain patterns are added
first, then intersections, then exclusions, whatever their order. A pattern that matches nothing is an error
that names it: at 3 a.m. a typo must not silently shrink the fleet.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from remediate.inventory.model import ALL

from remediate.errors import ConfigError

if TYPE_CHECKING:
    from remediate.inventory.host import Host
    from remediate.inventory.model import Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$")
_COLON_LIST = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = (".", "?", "*", "[")


def split_patterns(pattern: str) -> list[str]:
    """``'a,b[1], c[2:3] , d'`` -> ``['a', 'b[1]', 'c[2:3]', 'd']``; ``'web:&prod:!web03'`` -> three patterns."""
    if "," in pattern:
        parts = pattern.split(",")
    elif pattern.count(":") >= 2 and re.fullmatch(r"[0-9A-Fa-f:.]+", pattern.strip()):
        parts = [pattern]  # an IPv6 address
    elif re.fullmatch(r"[^:]+\[[^\]]*\]", pattern.strip()) or ":" not in pattern:
        parts = [pattern]
    else:
        parts = _COLON_LIST.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _ordered(patterns: list[str]) -> list[str]:
    regular = [p for p in patterns if p[0] not in "!&"]
    inter = [p for p in patterns if p[0] == "&"]
    exclude = [p for p in patterns if p[0] == "!"]
    return (regular or [ALL]) + inter + exclude


def _compile(expr: str) -> re.Pattern[str]:
    try:
        return re.compile(expr[1:]) if expr.startswith("~") else re.compile(fnmatch.translate(expr))
    except re.error as exc:
        raise ConfigError(f"--limit: {expr!r} is not a valid pattern ({exc})", step="inventory") from None


def _match_one(inv: Inventory, pattern: str) -> list[Host]:
    expr, subscript = pattern, None
    if not pattern.startswith("~"):
        m = _SUBSCRIPT.match(pattern)
        if m:
            expr = m.group(1)
            if m.group(2) is not None:
                subscript = (int(m.group(2)), None)
            else:
                subscript = (int(m.group(3)), int(m.group(4)) if m.group(4) else -1)
    if expr in (ALL, "*"):
        found = list(inv.hosts)
    else:
        names = {h.name for h in inv.hosts}
        if expr in names and subscript is None:
            return [h for h in inv.hosts if h.name == expr]
        rx = _compile(expr)
        groups = [g for g in inv.groups if rx.match(g)]
        wanted: dict[str, None] = {}
        for g in groups:
            wanted.update(dict.fromkeys(h.name for h in inv.group_hosts(g)))
        if not groups or expr.startswith("~") or any(c in expr for c in _GLOB_CHARS):
            wanted.update(dict.fromkeys(n for n in names if rx.match(n)))
        found = [h for h in inv.hosts if h.name in wanted]
        if groups:  # group order first, like Ansible: hosts as the groups list them
            order = {name: i for i, name in enumerate(wanted)}
            found.sort(key=lambda h: order[h.name])
    if subscript is None or not found:
        return found
    start, end = subscript
    try:
        if end is None:
            return [found[start]]
        end = len(found) - 1 if end == -1 else end
        return found[start : end + 1]
    except IndexError:
        return []


def select(inv: Inventory, pattern: str | None) -> list[Host]:
    """The hosts named by a ``--limit`` expression, in inventory order; every host for ``None`` / ``''``."""
    if pattern is None or not pattern.strip():
        return list(inv.hosts)
    patterns = split_patterns(pattern)
    if not patterns:
        return list(inv.hosts)
    chosen: dict[str, Host] = {}
    empty: list[str] = []
    for p in _ordered(patterns):
        body = p[1:] if p[0] in "!&" else p
        if not body:
            raise ConfigError(f"--limit: {p!r} has nothing after {p[0]!r}", step="inventory")
        hosts = _match_one(inv, body)
        if not hosts:
            empty.append(p)
        if p[0] == "!":
            drop = {h.name for h in hosts}
            chosen = {n: h for n, h in chosen.items() if n not in drop}
        elif p[0] == "&":
            keep = {h.name for h in hosts}
            chosen = {n: h for n, h in chosen.items() if n in keep}
        else:
            for h in hosts:
                chosen.setdefault(h.name, h)
    if empty:
        names = ", ".join(repr(p) for p in empty)
        raise ConfigError(
            f"--limit {pattern!r}: {names} matched no host in {inv.source or 'the inventory'}",
            step="inventory",
            hint="check the spelling; `remediate inventory -i FILE --list` shows every host and group",
        )
    if not chosen:
        raise ConfigError(
            f"--limit {pattern!r} leaves no host to run on",
            step="inventory",
            hint="the & and ! parts removed every host the other patterns matched",
        )
    return [h for h in inv.hosts if h.name in chosen]
