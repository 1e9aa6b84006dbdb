"""Inventories: which hosts to remediate and how to reach them.

Stable API (the CLI and runbooks use these)::

    inv = load_inventory("hosts.yml")          # native YAML, Ansible INI/YAML, or `az vm list -d -o json`
    inv.hosts                                  # list[Host], variables merged
    inv.groups                                 # dict[str, Group]
    inv.select("web*,&prod,!web03")            # --limit, Ansible syntax
    to_ansible_list(inv)                       # the shape of `ansible-inventory --list`, secrets masked
    ad_hoc_host("vm1:5986", os="windows")      # one --host
    ad_hoc_inventory(["vm1", "vm2"])           # several --host

A broken file raises one :class:`remediate.errors.ConfigError` naming the file and the line.
Importing this package stays light (no YAML, no logging): the lab's command shims import ``inventory.host``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from remediate.inventory.host import MASK, Host, is_secret_var
from remediate.inventory.model import ALL, UNGROUPED, Group, Inventory, InventoryBuilder, inventory_error, split_port

from remediate.errors import ConfigError

__all__ = [
    "Group",
    "Host",
    "Inventory",
    "ad_hoc_host",
    "ad_hoc_inventory",
    "detect_format",
    "load_inventory",
    "to_ansible_list",
]

FORMATS = ("native", "ansible-ini", "ansible-yaml", "az-vm-list")
_YAML_LINE = re.compile(r"^(---|%YAML|-\s|[^\s\[#;=][^=]*?:(\s|$))")


def _first_line(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line and line[0] not in "#;":
            return line
    return ""


def detect_format(path: str | Path, text: str) -> str:
    """``json`` / ``ini`` / ``yaml`` from the extension, else from the first significant line."""
    suffix = Path(path).suffix.lower()
    first = _first_line(text)
    if suffix in (".yml", ".yaml"):
        return "yaml"
    if suffix == ".json" or first.startswith(("[{", "{")) or first in ("[", "[]"):
        return "json"
    if suffix in (".ini", ".cfg", ".hosts"):
        return "ini"
    if _YAML_LINE.match(first) and not first.startswith("["):
        return "yaml"
    return "ini"


#: A load that takes longer than this many seconds reports progress, then again every PROGRESS_EVERY seconds.
PROGRESS_AFTER = 3.0
PROGRESS_EVERY = 5.0


def load_inventory(path: str | Path, progress: Callable[[str], None] | None = None) -> Inventory:
    """Read an inventory file of any supported format (see ``inventory/README.md``), or Azure (``azure://...``).

    ``progress`` (e.g. a line to stderr) is told how far a load has come once it has taken ``PROGRESS_AFTER``
    seconds, and every ``PROGRESS_EVERY`` seconds after that: a 50 MB inventory takes a while."""
    if str(path).lower().startswith("azure://"):
        from remediate.inventory.azure_live import load_azure_inventory

        return load_azure_inventory(str(path))
    if progress is None:
        return _load(Path(path))
    with _reporting(Path(path), progress):
        return _load(Path(path))


@contextlib.contextmanager
def _reporting(source: Path, progress: Callable[[str], None]) -> Iterator[None]:
    from remediate.inventory import model

    stop = threading.Event()
    start = time.monotonic()
    first = model.hosts_read()

    def tick() -> None:
        wait = PROGRESS_AFTER
        while not stop.wait(wait):
            size = source.stat().st_size if source.exists() else 0
            hosts = model.hosts_read() - first
            done = f"{hosts} hosts so far" if hosts else "parsing the file"
            progress(f"reading inventory {source} ({size / 1e6:.1f} MB): {time.monotonic() - start:.0f} s, {done}")
            wait = PROGRESS_EVERY

    thread = threading.Thread(target=tick, name="inventory-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _load(source: Path) -> Inventory:
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"inventory {source} does not exist", step="inventory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read inventory {source}: {exc.strerror}", step="inventory") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise inventory_error(source, line, "not UTF-8 text") from None
    kind = detect_format(source, text)
    if kind == "json":
        from remediate.inventory.azure import looks_like_az, parse_az_json

        if _first_line(text).startswith("{") and '"_meta"' in text:
            raise inventory_error(source, 1, "this is `ansible-inventory --list` output; give the inventory itself")
        if looks_like_az(text):
            return parse_az_json(text, source)
        # A JSON mapping: native or Ansible inventory written as JSON (YAML reads JSON).
    if kind == "ini":
        from remediate.inventory.ansible import parse_ini

        return parse_ini(text, source)
    from remediate.inventory.ansible import parse_ansible_yaml
    from remediate.inventory.native import looks_native, parse_native
    from remediate.inventory.yamlfile import load_yaml

    data = load_yaml(text, source)
    if data is None:
        raise inventory_error(source, None, "the inventory is empty")
    if looks_native(data):
        return parse_native(data, source)
    if isinstance(data, list):
        raise inventory_error(source, 1, "expected a mapping (native: defaults/hosts/groups; Ansible: all:)")
    return parse_ansible_yaml(data, source)


def ad_hoc_host(name: str, os: str | None = None, **vars: Any) -> Host:
    """A host given on the command line (``--host vm1``, ``--host 10.0.0.4:5986``, ``--host [::1]:22``).

    ``vars`` use the native names; ``address``, ``port``, ``connection`` and ``user`` become the host's fields.
    """
    target, port = split_port("--host", None, str(name))
    b = InventoryBuilder("--host", "ad-hoc")
    b.add_host(target, None)
    if port is not None:
        b.set_host_var(target, "port", port, None)
    if os is not None:
        b.set_host_var(target, "os", os, None)
    for key, value in vars.items():
        if value is not None:
            if is_secret_var(key):
                from remediate.log import register_secret

                register_secret(str(value))
            b.set_host_var(target, key, value, None)
    return b.build().hosts[0]


def ad_hoc_inventory(names: list[str], os: str | None = None, **vars: Any) -> Inventory:
    """An inventory of the ``--host`` values (several allowed); a name given twice is an error."""
    hosts: list[Host] = []
    for name in names:
        host = ad_hoc_host(name, os=os, **vars)
        if any(h.name == host.name for h in hosts):
            raise ConfigError(f"--host {host.name} is given twice", step="inventory")
        host.groups = [UNGROUPED]
        hosts.append(host)
    groups = {
        ALL: Group(ALL, children=[UNGROUPED]),
        UNGROUPED: Group(UNGROUPED, hosts=[h.name for h in hosts], parents=[ALL]),
    }
    return Inventory(hosts=hosts, groups=groups, source="--host", format="ad-hoc")


def ansible_hostvars(host: Host) -> dict[str, Any]:
    """A host's variables under their Ansible names, secrets masked, plus ``remediate_os`` and
    ``remediate_connection`` (what remediate derived: the OS and the transport it will use)."""
    from remediate.inventory.ansible import NATIVE_TO_ANSIBLE

    out: dict[str, Any] = {}
    if host.address is not None:
        out["ansible_host"] = host.address
    if host.port is not None:
        out["ansible_port"] = host.port
    if host.user is not None:
        out["ansible_user"] = host.user
    if host.connection is not None:
        out["ansible_connection"] = host.connection
    for key, value in host.vars.items():
        name = NATIVE_TO_ANSIBLE.get(key, key)
        out[name] = MASK if (is_secret_var(key) or is_secret_var(name)) else value
    if host.os is not None:
        out["remediate_os"] = host.os
    out["remediate_connection"] = host.transport
    return out


def to_ansible_list(inv: Inventory) -> dict[str, Any]:
    """The inventory in the shape of ``ansible-inventory --list``; secret values are masked."""
    out: dict[str, Any] = {"_meta": {"hostvars": {h.name: ansible_hostvars(h) for h in inv.hosts}}}
    known = {h.name for h in inv.hosts}
    all_group = inv.groups.get(ALL)
    children = list(all_group.children) if all_group else []
    if UNGROUPED not in children:
        children.insert(0, UNGROUPED)
    else:
        children.remove(UNGROUPED)
        children.insert(0, UNGROUPED)
    out[ALL] = {"children": children}
    for name, group in inv.groups.items():
        if name == ALL:
            continue
        entry: dict[str, Any] = {}
        hosts = [h for h in group.hosts if h in known]
        if hosts:
            entry["hosts"] = hosts
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            out[name] = entry
    return out
