"""Groups, the inventory, and the one place where variables are merged into hosts.

Every reader (native YAML, Ansible INI/YAML, ``az vm list``) declares hosts, groups, children and variables
through an :class:`InventoryBuilder`; :meth:`InventoryBuilder.build` then merges variables with Ansible's
precedence (``all`` < parent group < child group < host; groups of equal depth by ``ansible_group_priority``
then name), turns the connection variables into :class:`~inventory.host.Host` fields and checks them.
Variables are kept with the native names (``winrm_transport``, ``password_env``...): readers translate first.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediate.inventory.host import Host

from remediate.errors import ConfigError

# Variables that become Host fields rather than entries of Host.vars.
HOST_FIELDS = ("address", "port", "os", "connection", "user")

# The settings of the native format, besides the host fields (see inventory/README.md).
NATIVE_VARS = frozenset(
    {
        "password_env",
        "password_file",
        "winrm_scheme",
        "winrm_transport",
        "winrm_server_cert_validation",
        "winrm_ca_trust_path",
        "winrm_message_encryption",
        "winrm_path",
        "winrm_codepage",
        "winrm_operation_timeout",
        "winrm_read_timeout",
        "winrm_allow_basic_over_http",
        "ssh_key_file",
        "known_hosts",
        "accept_new_host_key",
        "become",
        "proxy_jump",
        "ssh_connect_timeout",
        "lab_dir",
    }
)

CHOICES: dict[str, tuple[str, ...]] = {
    "os": ("windows", "linux"),
    "connection": ("winrm", "ssh"),
    "winrm_scheme": ("https", "http"),
    "winrm_transport": ("ntlm", "basic", "kerberos", "credssp", "certificate"),
    "winrm_server_cert_validation": ("validate", "ignore"),
    "winrm_message_encryption": ("auto", "always", "never"),
}
BOOLEANS = frozenset({"become", "accept_new_host_key", "winrm_allow_basic_over_http"})
NUMBERS = frozenset({"winrm_operation_timeout", "winrm_read_timeout", "ssh_connect_timeout", "winrm_codepage"})
_TRUE = frozenset({"true", "yes", "on", "1", "y"})
_FALSE = frozenset({"false", "no", "off", "0", "n"})

ALL = "all"
UNGROUPED = "ungrouped"
#: The most hosts one name's ranges may expand to (``h[0:999]x[0:999]`` is 1,000,000), and in one inventory.
MAX_RANGE_HOSTS = 100_000
MAX_HOSTS = 200_000
_hosts_read = [0]  # hosts declared by every builder so far (read by the progress report of a long load)


def hosts_read() -> int:
    return _hosts_read[0]


def inventory_error(source: str | Path, line: int | None, message: str, hint: str | None = None) -> ConfigError:
    """A ConfigError that names the file and the line: ``inventory.ini:12: what is wrong``."""
    where = f"{source}:{line}" if line else str(source)
    return ConfigError(f"{where}: {message}", step="inventory", hint=hint)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_name(source: str | Path, line: int | None, kind: str, name: Any) -> str:
    """A host or group name: a non-empty string without control characters (names are data, never code)."""
    if name is None or isinstance(name, (dict, list)):
        raise inventory_error(source, line, f"a {kind} name must be a plain string")
    text = str(name)
    if not text.strip():
        raise inventory_error(source, line, f"empty {kind} name")
    if _CONTROL.search(text):
        raise inventory_error(source, line, f"{kind} name {text!r} contains a control character")
    return text


# -- host patterns: name:port and ranges ------------------------------------------------------------------------
_BRACKETED_V6 = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$")


def split_port(source: str | Path, line: int | None, pattern: str) -> tuple[str, int | None]:
    """``host:2222`` -> (host, 2222); ``[::1]:22`` -> (::1, 22); a bare IPv6 address keeps its colons."""
    text = pattern.strip()
    if ":" not in text:
        return text, None
    if text.endswith(":"):
        raise inventory_error(source, line, f"host {text!r} ends in ':' without a port")
    v6 = _BRACKETED_V6.match(text)
    if v6 and ("::" in v6.group(1) or v6.group(1).count(":") == 7):
        return v6.group(1), _port(source, line, v6.group(2), text) if v6.group(2) else None
    depth = 0
    colons = []
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ":" and depth == 0:
            colons.append(i)
    if len(colons) == 1:
        head, tail = text[: colons[0]], text[colons[0] + 1 :]
        return head, _port(source, line, tail, text)
    return text, None


def _port(source: str | Path, line: int | None, value: str, pattern: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise inventory_error(source, line, f"host {pattern!r}: port {value!r} is not a number from 1 to 65535")
    return int(value)


def expand_range(source: str | Path, line: int | None, pattern: str) -> list[str]:
    """Expand Ansible host ranges: ``vm[01:20]``, ``db-[a:c]``, ``n[0:20:5]``, several ranges in one name.

    The product of a name's ranges is capped at :data:`MAX_RANGE_HOSTS` before anything is expanded."""
    if "[" not in pattern:
        return [pattern]
    total = 1
    for count in _range_sizes(source, line, pattern):
        total *= count
        if total > MAX_RANGE_HOSTS:
            raise inventory_error(
                source,
                line,
                f"host pattern {pattern!r} expands to more than {MAX_RANGE_HOSTS} hosts",
                hint="split it into smaller ranges, or use fewer ranges in one name",
            )
    return _expand(source, line, pattern)


def _range_sizes(source: str | Path, line: int | None, pattern: str) -> list[int]:
    """How many items each range of the name has (checking each range's syntax)."""
    sizes = []
    rest = pattern
    while "[" in rest:
        _, _, rest = rest.partition("[")
        spec, closed, rest = rest.partition("]")
        if not closed:
            raise inventory_error(source, line, f"host range in {pattern!r} has no closing ']'")
        sizes.append(len(_range_items(source, line, spec)))
    return sizes


def _range_items(source: str | Path, line: int | None, spec: str) -> range | str:
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise inventory_error(source, line, f"host range [{spec}] must be [begin:end] or [begin:end:step]")
    beg, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise inventory_error(source, line, f"host range [{spec}] has no end value")
    if not _digits(step_text) or int(step_text) < 1:
        raise inventory_error(source, line, f"host range [{spec}]: step must be a positive number")
    step = int(step_text)
    letters = string.ascii_letters
    if len(beg) == 1 and len(end) == 1 and beg in letters and end in letters:
        i, j = letters.index(beg), letters.index(end)
        if i > j:
            raise inventory_error(source, line, f"host range [{spec}]: begin is after end")
        return letters[i : j + 1 : step]
    if _digits(beg) and _digits(end):
        if max(len(beg), len(end)) > 18:
            raise inventory_error(source, line, f"host range [{spec}] is too large")
        if int(beg) > int(end):
            raise inventory_error(source, line, f"host range [{spec}]: begin is after end")
        if (int(end) - int(beg)) // step > MAX_RANGE_HOSTS:
            raise inventory_error(source, line, f"host range [{spec}] is too large")
        return range(int(beg), int(end) + 1, step)
    raise inventory_error(source, line, f"host range [{spec}] must be numbers (0-9) or single letters")


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts ``²`` and other digits ``int`` refuses or reads otherwise."""
    return bool(text) and text.isascii() and text.isdigit()


def _expand(source: str | Path, line: int | None, pattern: str) -> list[str]:
    if "[" not in pattern:
        return [pattern]
    head, _, rest = pattern.partition("[")
    spec, _, tail = rest.partition("]")
    found = _range_items(source, line, spec)
    if isinstance(found, range):
        beg = spec.split(":")[0] or "0"
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        end = spec.split(":")[1]
        if width and len(end) != width:
            raise inventory_error(source, line, f"host range [{spec}]: zero-padded begin and end must be equally long")
        items = [str(n).zfill(width) for n in found]
    else:
        items = list(found)
    tails = _expand(source, line, tail)
    return [f"{head}{item}{t}" for item in items for t in tails]


# -- the model ---------------------------------------------------------------------------------------------------
@dataclass
class Group:
    """A group as declared: its direct hosts, child groups and own variables."""

    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    parents: list[str] = field(default_factory=list)


@dataclass
class Inventory:
    """Hosts with their final variables, and the groups they came from."""

    hosts: list[Host]
    groups: dict[str, Group]
    source: str = ""
    format: str = ""

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def group_hosts(self, name: str) -> list[Host]:
        """Every host in a group or in any of its descendants, in inventory order."""
        if name == ALL:
            return list(self.hosts)
        wanted = set()
        stack, seen = [name], set()
        while stack:
            g = stack.pop()
            if g in seen or g not in self.groups:
                continue
            seen.add(g)
            wanted.update(self.groups[g].hosts)
            stack.extend(self.groups[g].children)
        return [h for h in self.hosts if h.name in wanted]

    def select(self, pattern: str | None) -> list[Host]:
        """The hosts a ``--limit`` pattern names (Ansible syntax); ``None`` or ``all``: every host."""
        from remediate.inventory.limit import select

        return select(self, pattern)


class _Decl:
    __slots__ = ("groups", "line", "name", "var_lines", "vars")

    def __init__(self, name: str, line: int | None) -> None:
        self.name = name
        self.line = line
        self.vars: dict[str, Any] = {}
        self.var_lines: dict[str, int | None] = {}
        self.groups: dict[str, None] = {}  # host: direct groups; group: parents


class _GroupDecl(_Decl):
    __slots__ = ("children", "hosts")

    def __init__(self, name: str, line: int | None) -> None:
        super().__init__(name, line)
        self.hosts: dict[str, None] = {}
        self.children: dict[str, int | None] = {}


class InventoryBuilder:
    """Collects declarations in file order, then builds the :class:`Inventory`."""

    def __init__(
        self,
        source: str | Path,
        fmt: str,
        *,
        lenient: bool = False,
        os_hint: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        """``lenient`` (Ansible files): an ``os`` that is not windows/linux stays a plain variable and an unknown
        connection (``local``, ``docker``) is kept as it is, for the run to refuse that one host.
        ``os_hint`` gives the OS from the merged variables when no ``os`` is set."""
        self.source = str(source)
        self.format = fmt
        self.lenient = lenient
        self.os_hint = os_hint
        self._hosts: dict[str, _Decl] = {}
        # Variables from Ansible's group_vars/ and host_vars/ beside the file: they override the file's own
        # group variables (group_vars/all first, then the other groups by depth) and host variables.
        self.group_vars_files: dict[str, dict[str, Any]] = {}
        self.host_vars_files: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, _GroupDecl] = {ALL: _GroupDecl(ALL, None), UNGROUPED: _GroupDecl(UNGROUPED, None)}

    def error(self, line: int | None, message: str, hint: str | None = None) -> ConfigError:
        return inventory_error(self.source, line, message, hint)

    def has_group(self, name: str) -> bool:
        return name in self._groups

    def group_names(self) -> list[str]:
        return list(self._groups)

    def host_names(self) -> list[str]:
        return list(self._hosts)

    def add_host(self, name: str, line: int | None, group: str | None = None) -> None:
        decl = self._hosts.get(name)
        if decl is None:
            if len(self._hosts) >= MAX_HOSTS:
                raise self.error(line, f"more than {MAX_HOSTS} hosts in one inventory", hint="split the inventory")
            _hosts_read[0] += 1
            decl = self._hosts[name] = _Decl(check_name(self.source, line, "host", name), line)
        if group is not None and group != ALL:
            self.add_group(group, line)
            decl.groups[group] = None
            self._groups[group].hosts[name] = None

    def add_group(self, name: str, line: int | None) -> None:
        if name not in self._groups:
            self._groups[name] = _GroupDecl(check_name(self.source, line, "group", name), line)

    def add_child(self, parent: str, child: str, line: int | None) -> None:
        if child == ALL:
            raise self.error(line, f"group 'all' cannot be a child of {parent!r}")
        if parent == child:
            raise self.error(line, f"group {parent!r} cannot be its own child")
        self.add_group(parent, line)
        self.add_group(child, line)
        self._groups[parent].children.setdefault(child, line)
        self._groups[child].groups[parent] = None

    def set_host_var(self, host: str, key: str, value: Any, line: int | None) -> None:
        decl = self._hosts[host]
        decl.vars[key] = value
        decl.var_lines[key] = line

    def set_group_var(self, group: str, key: str, value: Any, line: int | None) -> None:
        self.add_group(group, line)
        decl = self._groups[group]
        decl.vars[key] = value
        decl.var_lines[key] = line

    # -- build ---------------------------------------------------------------------------------------------------
    def build(self) -> Inventory:
        groups = self._groups
        for name, g in groups.items():
            if name != ALL and not g.groups:
                g.groups[ALL] = None
                groups[ALL].children.setdefault(name, None)
        for h in self._hosts.values():
            # As Ansible's InventoryData.reconcile_inventory: a host in another group is not ungrouped, even
            # when it was first declared there (an INI host line before the first section); a host in no group is.
            if UNGROUPED in h.groups and len(h.groups) > 1:
                del h.groups[UNGROUPED]
                groups[UNGROUPED].hosts.pop(h.name, None)
            if not h.groups:
                h.groups[UNGROUPED] = None
                groups[UNGROUPED].hosts[h.name] = None
        depth = self._depths()
        priority = {n: self._priority(g) for n, g in groups.items()}
        ancestors: dict[str, tuple[str, ...]] = {}

        def lineage(name: str) -> tuple[str, ...]:
            if name not in ancestors:
                found: dict[str, None] = {name: None}
                for parent in groups[name].groups:
                    found.update(dict.fromkeys(lineage(parent)))
                ancestors[name] = tuple(found)
            return ancestors[name]

        order_key = {n: (depth[n], priority[n], n) for n in groups}
        merged_cache: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, int | None]]] = {}
        hosts: list[Host] = []
        for decl in self._hosts.values():
            member: dict[str, None] = {}
            for g in decl.groups:
                member.update(dict.fromkeys(lineage(g)))
            chain = tuple(sorted(member, key=order_key.__getitem__))
            if chain not in merged_cache:
                values: dict[str, Any] = {}
                lines: dict[str, int | None] = {}
                for g in chain:
                    values.update(groups[g].vars)
                    lines.update(groups[g].var_lines)
                for g in chain:
                    for key, value in self.group_vars_files.get(g, {}).items():
                        values[key] = value
                        lines[key] = None
                merged_cache[chain] = (values, lines)
            values, lines = merged_cache[chain]
            values = {**values, **decl.vars}
            lines = {**lines, **decl.var_lines}
            for key, value in self.host_vars_files.get(decl.name, {}).items():
                values[key] = value
                lines[key] = None
            shown = [g for g in chain if g != ALL]
            hosts.append(self._host(decl, values, lines, shown))
        out_groups = {
            n: Group(
                name=n,
                hosts=list(g.hosts),
                children=list(g.children),
                vars=dict(g.vars),
                parents=[p for p in g.groups],
            )
            for n, g in groups.items()
        }
        return Inventory(hosts=hosts, groups=out_groups, source=self.source, format=self.format)

    def _priority(self, g: _GroupDecl) -> int:
        value = g.vars.get("ansible_group_priority", 1)
        try:
            return int(value)
        except (TypeError, ValueError):
            line = g.var_lines.get("ansible_group_priority")
            raise self.error(line, "ansible_group_priority must be a number") from None

    def _depths(self) -> dict[str, int]:
        """Longest distance from ``all`` for every group; a cycle among children is an error."""
        groups = self._groups
        depth: dict[str, int] = {}
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, trail: list[str]) -> int:
            if state.get(name) == 2:
                return depth[name]
            if state.get(name) == 1:
                loop = " -> ".join([*trail[trail.index(name) :], name])
                line = groups[trail[-1]].children.get(name) if trail else None
                raise self.error(line, f"groups contain each other: {loop}")
            state[name] = 1
            trail.append(name)
            parents = [p for p in groups[name].groups]
            d = 0 if name == ALL else 1 + max((visit(p, trail) for p in parents), default=0)
            trail.pop()
            state[name] = 2
            depth[name] = d
            return d

        for name in groups:
            visit(name, [])
        return depth

    def _host(self, decl: _Decl, values: dict[str, Any], lines: dict[str, int | None], groups: list[str]) -> Host:
        values = dict(values)
        fields = {k: values.pop(k, None) for k in HOST_FIELDS}

        def where(key: str) -> int | None:
            return lines.get(key) or decl.line

        for key in list(values):
            if key in CHOICES:
                values[key] = self._choice(decl.name, key, values[key], where(key))
            elif key in BOOLEANS:
                values[key] = self._bool(decl.name, key, values[key], where(key))
            elif key in NUMBERS and values[key] is not None:
                values[key] = self._number(decl.name, key, values[key], where(key))
        port = fields["port"]
        if port is not None:
            port = self._number(decl.name, "port", port, where("port"))
            if not isinstance(port, int) or not 0 < port < 65536:
                raise self.error(where("port"), f"host {decl.name}: port must be a whole number from 1 to 65535")
        os_ = fields["os"]
        if os_ is not None:
            if self.lenient and str(os_).strip().lower() not in CHOICES["os"]:
                values["os"] = os_
                os_ = None
            else:
                os_ = self._choice(decl.name, "os", os_, where("os"))
        conn = fields["connection"]
        if conn is not None:
            if self.lenient and str(conn).strip().lower() not in CHOICES["connection"]:
                conn = str(conn)
            else:
                conn = self._choice(decl.name, "connection", conn, where("connection"))
        if os_ == "linux" and conn == "winrm":
            raise self.error(where("connection"), f"host {decl.name}: os linux cannot use connection winrm")
        if os_ is None and self.os_hint is not None:
            os_ = self.os_hint(values)
        if os_ is None:
            os_ = {"winrm": "windows", "ssh": "linux"}.get(conn or "")
        address = fields["address"]
        user = fields["user"]
        return Host(
            name=decl.name,
            address=None if address in (None, "") else str(address),
            port=port,
            os=os_,
            connection=conn,
            user=None if user in (None, "") else str(user),
            groups=groups,
            vars=values,
        )

    def _choice(self, host: str, key: str, value: Any, line: int | None) -> str:
        text = str(value).strip().lower() if value is not None else ""
        if text not in CHOICES[key]:
            allowed = ", ".join(CHOICES[key])
            raise self.error(line, f"host {host}: {key} must be one of {allowed} (got {value!r})")
        return text

    def _bool(self, host: str, key: str, value: Any, line: int | None) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self.error(line, f"host {host}: {key} must be true or false (got {value!r})")

    def _number(self, host: str, key: str, value: Any, line: int | None) -> int | float:
        if isinstance(value, bool):
            raise self.error(line, f"host {host}: {key} must be a number (got {value!r})")
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise self.error(line, f"host {host}: {key} must be a number (got {value!r})") from None
