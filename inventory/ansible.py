"""Ansible inventories, INI and YAML, read as they are.

Follows ``ansible/plugins/inventory/ini.py`` and ``yaml.py``: ``[group]``, ``[group:vars]``,
``[group:children]``, hosts before any section are ``ungrouped`` unless a later section names them (as everywhere,
a host in another group is not ungrouped: Ansible's ``reconcile_inventory``), host lines ``name[:port] k=v ...``
split like a shell line (``#`` starts a comment) with each value read as a Python literal (so ``x=1`` is a number and
``x="'1'"`` a string), host ranges ``vm[01:20]``, ``db-[a:c]``, ``n[0:20:5]``.

Connection variables are translated to the native names (``ansible_host`` -> address,
``ansible_winrm_transport`` -> ``winrm_transport``...). Inline passwords are allowed here because Ansible files
have them; they are registered with the log redactor at once and shown masked everywhere.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path
from typing import Any

from remediate.inventory.host import is_secret_var
from remediate.inventory.model import ALL, Inventory, InventoryBuilder, expand_range, inventory_error, split_port
from remediate.inventory.yamlfile import MarkedMap

from remediate.log import register_secret

# Ansible variable -> native variable.
ANSIBLE_TO_NATIVE = {
    "ansible_host": "address",
    "ansible_ssh_host": "address",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_connection": "connection",
    "ansible_password": "password",
    "ansible_ssh_pass": "password",
    "ansible_winrm_pass": "password",
    "ansible_winrm_password": "password",
    "ansible_psrp_password": "password",
    "ansible_winrm_transport": "winrm_transport",
    "ansible_winrm_scheme": "winrm_scheme",
    "ansible_winrm_path": "winrm_path",
    "ansible_winrm_server_cert_validation": "winrm_server_cert_validation",
    "ansible_winrm_ca_trust_path": "winrm_ca_trust_path",
    "ansible_winrm_message_encryption": "winrm_message_encryption",
    "ansible_winrm_operation_timeout_sec": "winrm_operation_timeout",
    "ansible_winrm_read_timeout_sec": "winrm_read_timeout",
    "ansible_psrp_protocol": "winrm_scheme",
    "ansible_psrp_auth": "winrm_transport",
    "ansible_psrp_cert_validation": "winrm_server_cert_validation",
    "ansible_psrp_ca_cert": "winrm_ca_trust_path",
    "ansible_psrp_path": "winrm_path",
    "ansible_ssh_private_key_file": "ssh_key_file",
    "ansible_private_key_file": "ssh_key_file",
    "ansible_become": "become",
    "ansible_ssh_timeout": "ssh_connect_timeout",
}

# Native variable -> the Ansible name it is shown under in ``inventory --list``.
NATIVE_TO_ANSIBLE = {
    "address": "ansible_host",
    "port": "ansible_port",
    "user": "ansible_user",
    "connection": "ansible_connection",
    "password": "ansible_password",
    "winrm_transport": "ansible_winrm_transport",
    "winrm_scheme": "ansible_winrm_scheme",
    "winrm_path": "ansible_winrm_path",
    "winrm_server_cert_validation": "ansible_winrm_server_cert_validation",
    "winrm_ca_trust_path": "ansible_winrm_ca_trust_path",
    "winrm_message_encryption": "ansible_winrm_message_encryption",
    "winrm_operation_timeout": "ansible_winrm_operation_timeout_sec",
    "winrm_read_timeout": "ansible_winrm_read_timeout_sec",
    "ssh_key_file": "ansible_ssh_private_key_file",
    "become": "ansible_become",
    "ssh_connect_timeout": "ansible_ssh_timeout",
}

# Read and dropped: meaningless for remediate.
IGNORED = frozenset({"ansible_python_interpreter"})

CONNECTIONS = {
    "winrm": "winrm",
    "psrp": "winrm",
    "ssh": "ssh",
    "paramiko": "ssh",
    "paramiko_ssh": "ssh",
    "smart": "ssh",
}
WINDOWS_SHELLS = frozenset({"powershell", "cmd"})


def translate(key: str, value: Any) -> tuple[str, Any] | None:
    """One Ansible variable as (native name, value); ``None`` when it is dropped."""
    if key in IGNORED:
        return None
    native = ANSIBLE_TO_NATIVE.get(key)
    if native is None:
        return key, value
    if native == "connection" and isinstance(value, str):
        value = CONNECTIONS.get(value.strip().lower(), value)
    elif native == "winrm_transport":
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str):
            value = value.split(",")[0].strip().lower()
            value = {"negotiate": "ntlm", "plaintext": "basic", "ssl": "basic"}.get(value, value)
    elif native == "winrm_scheme" and key == "ansible_psrp_protocol" and isinstance(value, str):
        value = value.lower()
    elif native == "winrm_server_cert_validation" and isinstance(value, bool):
        value = "validate" if value else "ignore"
    if native == "password" and value is not None:
        register_secret(str(value))
    return native, value


def _secret_hint(key: str, value: Any) -> None:
    if value is not None and is_secret_var(key):
        register_secret(str(value))


class _Reader:
    def __init__(self, source: str | Path, fmt: str) -> None:
        self.b = InventoryBuilder(source, fmt, lenient=True, os_hint=os_hint)

    def host_var(self, host: str, key: Any, value: Any, line: int | None) -> None:
        key = str(key)  # YAML allows a number as a key; Ansible's variables are named by text
        _secret_hint(key, value)
        pair = translate(str(key), value)
        if pair is not None:
            self.b.set_host_var(host, pair[0], pair[1], line)

    def group_var(self, group: str, key: Any, value: Any, line: int | None) -> None:
        key = str(key)
        _secret_hint(key, value)
        pair = translate(str(key), value)
        if pair is not None:
            self.b.set_group_var(group, pair[0], pair[1], line)

    def add_hosts(self, pattern: str, group: str | None, variables: dict[str, Any], line: int | None, lines=None):
        name, port = split_port(self.b.source, line, pattern)
        if name.strip() == "---":
            raise self.b.error(line, "'---' is not a host name: is this a YAML file with an .ini name?")
        for host in expand_range(self.b.source, line, name):
            self.b.add_host(host, line, group)
            if port is not None:
                self.host_var(host, "ansible_port", port, line)
            for k, v in variables.items():
                self.host_var(host, k, v, lines.get(k, line) if lines else line)

    def finish(self) -> Inventory:
        self.read_vars_dirs()
        return self.b.build()

    def read_vars_dirs(self) -> None:
        """``group_vars/`` and ``host_vars/`` beside the inventory file, as Ansible's host_group_vars reads them:
        ``NAME``, ``NAME.yml``, ``NAME.yaml``, ``NAME.json``, or a folder ``NAME/`` of such files."""
        base = Path(self.b.source).parent
        for kind, names, target in (
            ("group_vars", self.b.group_names(), self.b.group_vars_files),
            ("host_vars", self.b.host_names(), self.b.host_vars_files),
        ):
            folder = base / kind
            if not folder.is_dir():
                continue
            for name in names:
                merged: dict[str, Any] = {}
                for path in _vars_files(folder, name):
                    for key, value in _read_vars_file(path).items():
                        _secret_hint(str(key), value)
                        pair = translate(str(key), value)
                        if pair is not None:
                            merged[pair[0]] = pair[1]
                if merged:
                    target[name] = merged


_VARS_EXT = ("", ".yml", ".yaml", ".json")


def _vars_files(folder: Path, name: str) -> list[Path]:
    found = [folder / f"{name}{ext}" for ext in _VARS_EXT if (folder / f"{name}{ext}").is_file()]
    sub = folder / name
    if sub.is_dir():
        found += sorted(
            p for p in sub.rglob("*") if p.is_file() and p.suffix in _VARS_EXT and not p.name.startswith(".")
        )
    return found


def _read_vars_file(path: Path) -> dict[str, Any]:
    from remediate.inventory.yamlfile import load_yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise inventory_error(path, None, f"cannot read: {reason}") from None
    if text.lstrip().startswith("$ANSIBLE_VAULT") or "!vault" in text:
        raise inventory_error(
            path,
            None,
            "encrypted with ansible-vault, which remediate does not read",
            hint="give the credential as password_env / password_file (or REMEDIATE_PASSWORD) instead",
        )
    data = load_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise inventory_error(path, 1, "a vars file must be a mapping of variable names to values")
    return data


def os_hint(v: dict[str, Any]) -> str | None:
    """Ansible has no OS setting: ``remediate_os``, ``ansible_os_family`` or a Windows shell type tell it."""
    hint = v.get("remediate_os")
    if isinstance(hint, str) and hint.strip().lower() in ("windows", "linux"):
        return hint.strip().lower()
    if str(v.get("ansible_shell_type", "")).strip().lower() in WINDOWS_SHELLS:
        return "windows"
    family = v.get("ansible_os_family")
    if isinstance(family, str) and family.strip():
        return "windows" if family.strip().lower() == "windows" else "linux"
    return None


# -- INI ---------------------------------------------------------------------------------------------------------
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_DOTTED = re.compile(r"\d+(?:\.\d+){2,}\Z")
_PLAIN = re.compile(r"[A-Za-z_][\w\-./]*\Z")
_INT = re.compile(r"-?(?:0|[1-9]\d{0,17})\Z")
_SIMPLE_LINE = re.compile(r"[^'\"\\#]*\Z")
# The first character of anything ast.literal_eval can accept (numbers, containers, strings, True/False/None).
_LITERAL_START = frozenset("0123456789-+.[{('\" \tTFNbBrRuU")
_WORD = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>\#.*)|'(?P<sq>[^']*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|\\(?P<esc>.)|(?P<plain>[^\s'"\\#]+)""",
    re.S,
)
_DQ_ESCAPE = re.compile(r'\\(["\\])')


def split_host_line(line: str) -> list[str]:
    """Split a host line like ``shlex.split(line, comments=True)`` does (POSIX rules), only faster.

    Raises ValueError on an unbalanced quote or a trailing backslash, as shlex does.
    """
    words: list[str] = []
    current: list[str] = []
    started = False
    pos, end = 0, len(line)
    while pos < end:
        m = _WORD.match(line, pos)
        if m is None:
            raise ValueError("No closing quotation" if line[pos] in "'\"" else "No escaped character")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            if started:
                words.append("".join(current))
                current, started = [], False
            continue
        if kind == "comment":
            break
        started = True
        if kind == "dq":
            current.append(_DQ_ESCAPE.sub(r"\1", m.group("dq")))
        else:
            current.append(m.group(kind))
    if started:
        words.append("".join(current))
    return words


def ini_value(text: str) -> Any:
    """An INI value as Ansible reads it: a Python literal when it is one, else the text itself."""
    if _INT.match(text):
        return int(text)
    if not text or text[0] not in _LITERAL_START:
        return text
    if _PLAIN.match(text) and text not in ("True", "False", "None"):
        return text
    if _DOTTED.match(text):  # an IPv4 address or a version: never a Python literal
        return text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is ... or isinstance(value, complex):
        return "..." if value is ... else str(value)
    return value


def parse_ini(text: str, source: str | Path) -> Inventory:
    r = _Reader(source, "ansible-ini")
    b = r.b
    declared = {ALL, "ungrouped"}
    child_refs: list[tuple[str, str, int]] = []
    vars_refs: list[tuple[str, int]] = []
    group, state = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = _SECTION.match(line)
        if m:
            group, kind = m.group(1), m.group(2) or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise b.error(lineno, f"section [{group}:{kind}] has an unknown type", hint="use :vars or :children")
            b.add_group(group, lineno)
            state = kind
            if kind == "vars":
                vars_refs.append((group, lineno))
            else:
                declared.add(group)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise b.error(lineno, "invalid section header: use [name], [name:vars] or [name:children], no spaces")
        if state == "hosts":
            if _SIMPLE_LINE.match(line):
                tokens = line.split()
            else:
                try:
                    tokens = split_host_line(line)
                except ValueError:
                    raise b.error(lineno, "unbalanced quotes or a trailing backslash on this host line") from None
            if not tokens:
                continue
            variables: dict[str, Any] = {}
            for n, token in enumerate(tokens[1:], 2):
                key, eq, value = token.partition("=")
                if not eq or not key:
                    raise b.error(lineno, f"word {n} after host {tokens[0]!r} is not key=value")
                variables[key] = ini_value(value)
            r.add_hosts(tokens[0], group, variables, lineno)
        elif state == "vars":
            key, eq, value = line.partition("=")
            key = key.strip()
            if not eq or not key:
                raise b.error(lineno, f"expected key=value in [{group}:vars]")
            r.group_var(group, key, ini_value(value.strip()), lineno)
        else:
            cm = _GROUPNAME.match(line)
            if not cm:
                raise b.error(lineno, f"expected a group name in [{group}:children]")
            child_refs.append((group, cm.group(1), lineno))
    problems: list[tuple[int, str]] = []
    for parent, child, lineno in child_refs:
        if child not in declared:
            problems.append((lineno, f"[{parent}:children] names group {child!r}, which has no [{child}] section"))
    for g, lineno in vars_refs:
        if g not in declared and all(c != g for _, c, _ in child_refs):
            problems.append((lineno, f"[{g}:vars] is for group {g!r}, which is not defined"))
    if problems:
        lineno, message = min(problems)
        raise b.error(lineno, message)
    for parent, child, lineno in child_refs:
        b.add_child(parent, child, lineno)
    return r.finish()


# -- YAML --------------------------------------------------------------------------------------------------------
GROUP_KEYS = ("hosts", "children", "vars")


def parse_ansible_yaml(data: Any, source: str | Path) -> Inventory:
    r = _Reader(source, "ansible-yaml")
    b = r.b
    if not isinstance(data, MarkedMap) or not data:
        raise b.error(None, "an Ansible YAML inventory is a mapping of group names (usually starting with all:)")
    if data.get("plugin"):
        raise b.error(data.line_of("plugin"), "this is an inventory plugin configuration, not an inventory")
    for name, spec in data.items():
        _yaml_group(r, str(name), spec, data.line_of(name))
    return r.finish()


def _yaml_group(r: _Reader, name: str, spec: Any, line: int | None) -> None:
    b = r.b
    b.add_group(name, line)
    if spec is None:
        return
    if not isinstance(spec, MarkedMap):
        raise b.error(line, f"group {name}: expected a mapping with hosts, children and vars")
    for key in spec:
        if key not in GROUP_KEYS:
            raise b.error(spec.line_of(key), f"group {name}: unknown key {key!r}", hint="use hosts, children, vars")
    for key in GROUP_KEYS:
        if key not in spec or spec[key] is None:
            continue
        value = spec[key]
        kline = spec.line_of(key)
        if isinstance(value, str):
            value = MarkedMap({value: None})
            value.line = kline
        if not isinstance(value, MarkedMap):
            raise b.error(kline, f"group {name}: {key} must be a mapping")
        if key == "vars":
            for k, v in value.items():
                r.group_var(name, str(k), v, value.line_of(k))
        elif key == "children":
            for child, child_spec in value.items():
                child = str(child)
                _yaml_group(r, child, child_spec, value.line_of(child))
                b.add_child(name, child, value.line_of(child))
        else:
            for pattern, hvars in value.items():
                hline = value.line_of(pattern)
                if pattern is None:
                    raise b.error(hline, f"group {name}: empty host name")
                if hvars is not None and not isinstance(hvars, MarkedMap):
                    raise b.error(hline, f"host {pattern}: variables must be a mapping")
                lines = {k: hvars.line_of(k) for k in hvars} if hvars else None
                r.add_hosts(str(pattern), name, dict(hvars or {}), hline, lines)
