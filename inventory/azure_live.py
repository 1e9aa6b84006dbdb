"""A live inventory from Azure: ``-i azure://SUBSCRIPTION[/RESOURCE_GROUP][?tag=k:v&connection=...]``.

The VMs of the subscription (or of one resource group) are read with azure-mgmt-compute (VMs, instance views:
power state and agent status) and azure-mgmt-network (their NICs' private IPs), turned into the JSON that
``az vm list -d`` prints and read by :mod:`inventory.azure`, so both give the same hosts and groups
(``rg_<group>``, ``location_<region>``, ``windows``/``linux``). Added: ``azure_subscription``,
``azure_agent_status`` (``succeeded`` when the VM agent is ready), the remediation parameters the VM carries
as ``remediate.NAME`` tags and the group ``stopped`` for VMs that are not
running: the runner reports those without trying them.

Query: ``tag=key:value`` (repeatable: every tag must match), ``connection=winrm|ssh|azure-runcommand|azure-arm``
(default: WinRM for Windows, SSH for Linux, at the private IP), ``config=FILE`` (an Azure config, see
:mod:`remediate.azure.clients`; default ``$REMEDIATE_AZURE_CONFIG``, else the public cloud). A subscription of
``-`` takes the config's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from remediate.inventory.model import Group, Inventory

from remediate.errors import ConfigError

SCHEME = "azure://"
CONNECTIONS = ("winrm", "ssh", "azure-runcommand", "azure-arm")


def is_azure_url(text: str) -> bool:
    return str(text).lower().startswith(SCHEME)


def parse_url(url: str) -> tuple[str | None, str | None, dict[str, str], str | None, str | None]:
    """``(subscription, resource group, tags, connection, config)``."""
    split = urlsplit(url)
    sub = unquote(split.netloc) or None
    rg = unquote(split.path.strip("/")) or None
    if rg and "/" in rg:
        raise ConfigError(f"{url}: expected azure://SUBSCRIPTION[/RESOURCE_GROUP]", step="inventory")
    tags: dict[str, str] = {}
    connection = config = None
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        if key == "tag":
            name, sep, wanted = value.partition(":")
            if not sep or not name:
                raise ConfigError(f"{url}: tag filters are tag=key:value", step="inventory")
            tags[name] = wanted
        elif key == "connection":
            if value not in CONNECTIONS:
                raise ConfigError(f"{url}: connection is one of {', '.join(CONNECTIONS)}", step="inventory")
            connection = value
        elif key == "config":
            config = value
        else:
            raise ConfigError(f"{url}: unknown parameter {key!r} (tag, connection, config)", step="inventory")
    return (None if sub == "-" else sub), rg, tags, connection, config


def load_azure_inventory(url: str) -> Inventory:
    from remediate.inventory.azure import parse_az_json

    from remediate.azure.clients import AzureConfig, Clients, resource_group_of, status_of
    from remediate.azure.loop import tag_vars

    sub, rg, tags, connection, config_path = parse_url(url)
    config = AzureConfig.load(config_path, subscription=sub)
    clients = Clients(config)
    ops = clients.compute.virtual_machines
    vms = list(ops.list(rg) if rg else ops.list_all())
    ips: dict[str, list[str]] = {}
    nics = clients.network.network_interfaces
    for nic in nics.list(rg) if rg else nics.list_all():
        vm_id = str(getattr(getattr(nic, "virtual_machine", None), "id", "") or "").lower()
        found = [c.private_ip_address for c in nic.ip_configurations or [] if c.private_ip_address]
        ips.setdefault(vm_id, []).extend(found)
    docs = []
    extra: dict[str, dict[str, Any]] = {}
    for vm in vms:
        vm_tags = dict(vm.tags or {})
        if any(vm_tags.get(k) != v for k, v in tags.items()):
            continue
        group = resource_group_of(vm.id)
        view = ops.instance_view(group, vm.name)
        power = status_of(view.statuses, "PowerState")
        agent = status_of(getattr(getattr(view, "vm_agent", None), "statuses", None), "ProvisioningState")
        os_type = getattr(vm.storage_profile.os_disk, "os_type", None)
        docs.append(
            {
                "name": vm.name,
                "id": vm.id,
                "resourceGroup": group,
                "location": vm.location,
                "vmId": vm.vm_id,
                "tags": vm_tags,
                "privateIps": ",".join(ips.get(vm.id.lower(), [])),
                "publicIps": "",
                "powerState": f"VM {power}" if power else None,
                "storageProfile": {"osDisk": {"osType": str(os_type).rsplit(".", 1)[-1] if os_type else None}},
                "osProfile": {"adminUsername": getattr(vm.os_profile, "admin_username", None)},
                "hardwareProfile": {"vmSize": getattr(vm.hardware_profile, "vm_size", None)},
            }
        )
        extra[vm.id.lower()] = {"power": power, "agent": agent}
    inv = parse_az_json(json.dumps(docs), url)
    for host in inv.hosts:
        facts = extra.get(str(host.vars.get("azure_id", "")).lower(), {})
        host.vars["azure_subscription"] = clients.subscription
        host.vars["azure_agent_status"] = facts.get("agent")
        for key, value in tag_vars(host.vars.get("azure_tags")).items():
            host.vars.setdefault(key, value)
        if config_path:
            host.vars["azure_config"] = config_path
        if connection:
            host.connection = connection
        if facts.get("power") not in (None, "running"):
            host.groups.append("stopped")
            inv.groups.setdefault("stopped", Group("stopped")).hosts.append(host.name)
    return inv
