"""The JSON of ``az vm list -d -o json`` (``--show-details``) as an inventory.

Each VM becomes a host named after the VM. Its address is the first private IP (``privateIps``: the CLI joins
several with commas), else the first public IP: remediation runs from inside the virtual network (a jump host,
an Azure Automation hybrid worker) far more often than over the internet, and a VM with both would otherwise be
reached through its public address. The OS comes from ``storageProfile.osDisk.osType``; the user from
``osProfile.adminUsername``. Groups: ``rg_<resource group>``, ``location_<region>``, ``windows`` / ``linux``,
names lower-cased with every character other than a-z, 0-9 and ``_`` turned into ``_`` (resource group names
are case-insensitive in Azure and the CLI does not always print them in the same case).
Two VMs of the same name in different resource groups are named ``<vm>.<resource group>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from remediate.inventory.model import Inventory, InventoryBuilder

_UNSAFE = re.compile(r"[^a-z0-9_]")
_RG_IN_ID = re.compile(r"/resourceGroups/([^/]+)/", re.IGNORECASE)


def safe_group_name(text: str) -> str:
    return _UNSAFE.sub("_", text.strip().lower()) or "_"


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one where the file has something else (null, a string, a list)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A JSON string field as text; anything else (an object, a list, a number) counts as absent."""
    return value.strip() if isinstance(value, str) else ""


def _ips(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return []


def _line_of_items(text: str) -> list[int]:
    """The line where each item of the top-level JSON array starts (for error messages)."""
    lines: list[int] = []
    depth, line = 0, 1
    in_str = escape = expecting = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
            continue
        if depth == 1 and expecting and ch not in " \t\r\n,]":
            lines.append(line)
            expecting = False
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            expecting = depth == 1 and ch == "["
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 1:
            expecting = True
    return lines


def looks_like_az(text: str) -> bool:
    """A JSON array, or one object with the fields of a VM (``az vm show -d``)."""
    head = text.lstrip()
    if head.startswith("["):
        return True
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    vm_keys = ("storageProfile", "vmId", "resourceGroup")
    return isinstance(data, dict) and "name" in data and any(k in data for k in vm_keys)


def parse_az_json(text: str, source: str | Path) -> Inventory:
    b = InventoryBuilder(source, "az-vm-list")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise b.error(exc.lineno, f"invalid JSON, column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict):
        data = [data]  # `az vm show -d` prints one object
    if not isinstance(data, list):
        raise b.error(1, "expected the JSON array that `az vm list -d -o json` prints")
    item_lines = _line_of_items(text) if text.lstrip().startswith("[") else [1]
    vms: list[tuple[dict[str, Any], int | None]] = []
    for i, vm in enumerate(data):
        line = item_lines[i] if i < len(item_lines) else None
        if not isinstance(vm, dict) or not isinstance(vm.get("name"), str) or not vm["name"].strip():
            raise b.error(line, f"entry {i + 1} is not a VM with a name")
        vms.append((vm, line))
    counts: dict[str, int] = {}
    for vm, _ in vms:
        counts[vm["name"]] = counts.get(vm["name"], 0) + 1
    for vm, line in vms:
        rg = _text(vm.get("resourceGroup"))
        if not rg:
            m = _RG_IN_ID.search(_text(vm.get("id")))
            rg = m.group(1) if m else ""
        name = vm["name"] if counts[vm["name"]] == 1 else f"{vm['name']}.{rg.lower()}"
        private, public = _ips(vm.get("privateIps")), _ips(vm.get("publicIps"))
        os_type = _text(_obj(_obj(vm.get("storageProfile")).get("osDisk")).get("osType")).lower()
        os_ = os_type if os_type in ("windows", "linux") else None
        location = _text(vm.get("location"))
        tags = _obj(vm.get("tags"))
        b.add_host(name, line)
        for group in (
            f"rg_{safe_group_name(rg)}" if rg else None,
            f"location_{safe_group_name(location)}" if location else None,
            os_,
        ):
            if group:
                b.add_host(name, line, group)
        user = _text(_obj(vm.get("osProfile")).get("adminUsername")) or None
        settings: dict[str, Any] = {
            "address": (private or public or [None])[0],
            "os": os_,
            "user": user,
            "azure_name": vm["name"],
            "azure_resource_group": rg,
            "azure_location": location,
            "azure_private_ips": private,
            "azure_public_ips": public,
            "azure_power_state": _text(vm.get("powerState")) or None,
            "azure_vm_size": _text(_obj(vm.get("hardwareProfile")).get("vmSize")) or None,
            "azure_vm_id": _text(vm.get("vmId")) or None,
            "azure_id": _text(vm.get("id")) or None,
            "azure_tags": tags,
        }
        for key, value in settings.items():
            if value is not None:
                b.set_host_var(name, key, value, line)
    return b.build()
