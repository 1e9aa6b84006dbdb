"""The native inventory format: YAML with ``defaults``, ``hosts`` and ``groups`` (see inventory/README.md).

Credentials appear only by reference (``password_env`` / ``password_file``): an inline password is an error.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from remediate.inventory.host import is_secret_var
from remediate.inventory.model import HOST_FIELDS, NATIVE_VARS, Inventory, InventoryBuilder, expand_range
from remediate.inventory.yamlfile import MarkedMap

TOP_KEYS = ("defaults", "hosts", "groups")
GROUP_KEYS = ("hosts", "children", "vars")
KNOWN = frozenset(HOST_FIELDS) | NATIVE_VARS | {"groups", "vars"}


def looks_native(data: Any) -> bool:
    """A mapping whose top-level keys are only ``defaults`` / ``hosts`` / ``groups``."""
    return isinstance(data, dict) and bool(data) and all(k in TOP_KEYS for k in data)


def parse_native(data: Any, source: str | Path) -> Inventory:
    b = InventoryBuilder(source, "native")
    if data is None:
        raise b.error(None, "the inventory is empty")
    if not isinstance(data, MarkedMap):
        raise b.error(None, "a native inventory is a mapping with defaults, hosts and groups")
    _no_duplicates(b, data)
    for key in data:
        if key not in TOP_KEYS:
            raise b.error(data.line_of(key), f"unknown top-level key {key!r}", hint="use defaults, hosts, groups")

    defaults = data.get("defaults")
    if defaults is not None:
        for key, value in _mapping(b, data, "defaults").items():
            _check_var(b, defaults, key, value, "defaults")
            b.set_group_var("all", str(key), value, defaults.line_of(key))

    hosts = data.get("hosts")
    if hosts is not None:
        if isinstance(hosts, list):
            for h in hosts:
                if h is None or isinstance(h, (dict, list)):
                    raise b.error(data.line_of("hosts"), "a host name must be a plain string")
            hosts = MarkedMap({h: None for h in hosts})
            hosts.line = data.line_of("hosts")
        for name, spec in _mapping(b, data, "hosts").items():
            line = hosts.line_of(name)
            for host in _names(b, name, line):
                b.add_host(host, line)
                _host_spec(b, host, spec, line)

    groups = data.get("groups")
    if groups is not None:
        for gname, spec in _mapping(b, data, "groups").items():
            _group_spec(b, str(gname), spec, groups.line_of(gname))
    return b.build()


def _host_spec(b: InventoryBuilder, host: str, spec: Any, line: int | None) -> None:
    if spec is None:
        return
    if not isinstance(spec, MarkedMap):
        raise b.error(line, f"host {host}: settings must be a mapping (key: value)")
    _no_duplicates(b, spec)
    for key, value in spec.items():
        kline = spec.line_of(key)
        if key == "groups":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list):
                raise b.error(kline, f"host {host}: groups must be a list of group names")
            for g in names:
                b.add_host(host, kline, str(g))
        elif key == "vars":
            if value is None:
                continue
            if not isinstance(value, MarkedMap):
                raise b.error(kline, f"host {host}: vars must be a mapping")
            for k, v in value.items():
                _check_var(b, value, k, v, f"host {host}")
                b.set_host_var(host, str(k), v, value.line_of(k))
        else:
            _check_var(b, spec, key, value, f"host {host}")
            b.set_host_var(host, str(key), value, kline)


def _group_spec(b: InventoryBuilder, name: str, spec: Any, line: int | None) -> None:
    b.add_group(name, line)
    if spec is None:
        return
    if not isinstance(spec, MarkedMap):
        raise b.error(line, f"group {name}: expected a mapping with hosts, children and vars")
    _no_duplicates(b, spec)
    for key in spec:
        if key not in GROUP_KEYS:
            raise b.error(spec.line_of(key), f"group {name}: unknown key {key!r}", hint="use hosts, children, vars")
    for key in ("hosts", "children"):
        value = spec.get(key)
        if value is None:
            continue
        kline = spec.line_of(key)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, dict):
            entries = [(k, value.line_of(k) if isinstance(value, MarkedMap) else kline) for k in value]
            for (_, eline), v in zip(entries, value.values(), strict=True):
                if v is not None:
                    raise b.error(eline, f"group {name}: {key} lists names only; put settings under hosts")
        elif isinstance(value, list):
            entries = [(item, kline) for item in value]
        else:
            raise b.error(kline, f"group {name}: {key} must be a list of names")
        for item, iline in entries:
            if key == "hosts":
                for host in _names(b, item, iline):
                    b.add_host(host, iline, name)
            else:
                b.add_child(name, str(item), iline)
    variables = spec.get("vars")
    if variables is not None:
        if not isinstance(variables, MarkedMap):
            raise b.error(spec.line_of("vars"), f"group {name}: vars must be a mapping")
        _no_duplicates(b, variables)
        for k, v in variables.items():
            _check_var(b, variables, k, v, f"group {name}")
            b.set_group_var(name, str(k), v, variables.line_of(k))


def _names(b: InventoryBuilder, name: Any, line: int | None) -> list[str]:
    if name is None or isinstance(name, (dict, list)):
        raise b.error(line, "a host name must be a plain string")
    return expand_range(b.source, line, str(name))


def _mapping(b: InventoryBuilder, parent: MarkedMap, key: str) -> MarkedMap:
    value = parent[key]
    if not isinstance(value, MarkedMap):
        raise b.error(parent.line_of(key), f"{key} must be a mapping")
    _no_duplicates(b, value)
    return value


def _no_duplicates(b: InventoryBuilder, data: MarkedMap) -> None:
    if data.duplicates:
        key, line = data.duplicates[0]
        raise b.error(line, f"{key!r} is defined twice")


def _check_var(b: InventoryBuilder, where: MarkedMap, key: Any, value: Any, owner: str) -> None:
    line = where.line_of(key)
    if not isinstance(key, str) or not key:
        raise b.error(line, f"{owner}: setting names must be text")
    if is_secret_var(key):
        raise b.error(
            line,
            f"{owner}: an inline {key} is not allowed in a native inventory",
            hint="give password_env: VARIABLE_NAME or password_file: /path/to/file instead",
        )
    if key not in KNOWN and key not in ("groups", "vars"):
        close = difflib.get_close_matches(key, sorted(KNOWN), n=1, cutoff=0.85)
        if close:
            raise b.error(line, f"{owner}: unknown setting {key!r}", hint=f"did you mean {close[0]!r}?")
    if key in ("groups", "vars") and owner.startswith(("group", "defaults")):
        raise b.error(line, f"{owner}: {key!r} is not a variable")
