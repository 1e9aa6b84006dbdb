"""ARM requests as remote operations (``connection: azure-arm``), for the Azure-side remediations.

An Azure-side remediation runs on the same contract as an in-guest one: its operations name an entry of
:data:`ARM_OPERATIONS` (``arm/extension_delete`` ...) with its arguments as data, declared read-only or mutating
with :func:`remediate.operation.read` / ``mutate``. Each entry says its HTTP method; an operation declared
read-only whose entry is not a GET is refused, so the dry-run guard of :class:`Connection` (which refuses every
mutating operation before anything is sent) covers every PUT, PATCH, POST and DELETE. The "host" is the VM's
resource (its ``azure_*`` vars); the SDK does the HTTP, the long-running operations and the retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from remediate.azure.clients import Clients, resource_group_of, status_of
from remediate.connection import Connection, ConnectOptions
from remediate.connection.azure_common import clients_for, translate, vm_of
from remediate.errors import ConfigError
from remediate.operation import Operation, Result

BACKUP_MANAGEMENT_SERVICE_APP = "262044b1-e2ce-469f-a196-69ab7ada62d3"


@dataclass(frozen=True)
class ArmOp:
    method: str
    run: Callable[[Clients, str, str, dict[str, Any]], Any]  # (clients, resource group, vm, args) -> data


ARM_OPERATIONS: dict[str, ArmOp] = {}


def arm_op(name: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        ARM_OPERATIONS[f"arm/{name}"] = ArmOp(method, func)
        return func

    return register


@arm_op("vm_state", "GET")
def vm_state(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    """The VM's power and provisioning state, agent status and snapshot extensions."""
    resource = c.compute.virtual_machines.get(rg, vm)
    view = c.compute.virtual_machines.instance_view(rg, vm)
    agent = getattr(view, "vm_agent", None)
    extensions = []
    for ext in getattr(view, "extensions", None) or []:
        extensions.append(
            {
                "name": ext.name,
                "type": ext.type,
                "state": status_of(ext.statuses, "ProvisioningState"),
            }
        )
    key_vault = None
    settings = getattr(getattr(resource.storage_profile, "os_disk", None), "encryption_settings", None)
    source = getattr(getattr(getattr(settings, "disk_encryption_key", None), "source_vault", None), "id", None)
    if source:
        key_vault = {"name": source.rstrip("/").rsplit("/", 1)[-1], "resource_group": resource_group_of(source)}
    return {
        "id": resource.id,
        "location": resource.location,
        "key_vault": key_vault,
        "power_state": status_of(view.statuses, "PowerState"),
        "provisioning_state": status_of(view.statuses, "ProvisioningState"),
        "agent_status": status_of(getattr(agent, "statuses", None), "ProvisioningState"),
        "agent_version": getattr(agent, "vm_agent_version", None),
        "extensions": extensions,
    }


@arm_op("extension_delete", "DELETE")
def extension_delete(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    c.compute.virtual_machine_extensions.begin_delete(rg, vm, args["name"]).result()
    return {"deleted": args["name"]}


@arm_op("restore_point_collections", "GET")
def restore_point_collections(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The VM's restore point collections (in ``args["resource_group"]``, the AzureBackupRG_* group)."""
    vm_id = args["vm_id"].lower()
    out = []
    for rpc in c.compute.restore_point_collections.list(args["resource_group"]):
        source = str(getattr(getattr(rpc, "source", None), "id", "") or "").lower()
        if source != vm_id:
            continue
        full = c.compute.restore_point_collections.get(args["resource_group"], rpc.name, expand="restorePoints")
        out.append({"name": rpc.name, "restore_points": len(full.restore_points or [])})
    return out


@arm_op("restore_point_collection_delete", "DELETE")
def restore_point_collection_delete(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    c.compute.restore_point_collections.begin_delete(args["resource_group"], args["name"]).result()
    return {"deleted": args["name"]}


@arm_op("locks", "GET")
def locks(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    found = c.locks.management_locks.list_at_resource_group_level(args["resource_group"])
    return [{"name": x.name, "level": str(x.level), "notes": x.notes or ""} for x in found]


@arm_op("lock_delete", "DELETE")
def lock_delete(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    c.locks.management_locks.delete_at_resource_group_level(args["resource_group"], args["name"])
    return {"deleted": args["name"]}


@arm_op("lock_create", "PUT")
def lock_create(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    body = {"properties": {"level": args["level"], "notes": args.get("notes") or ""}}
    made = c.locks.management_locks.create_or_update_at_resource_group_level(args["resource_group"], args["name"], body)
    return {"name": made.name, "level": str(made.level)}


@arm_op("key_vault", "GET")
def key_vault(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    kv = c.keyvault.vaults.get(args["resource_group"], args["name"])
    props = kv.properties
    policies = []
    for p in props.access_policies or []:
        perms = p.permissions  # a hybrid model and a mapping: its `.keys` is the mapping method
        policies.append(
            {
                "object_id": p.object_id,
                "keys": [str(x) for x in perms.get("keys") or []],
                "secrets": [str(x) for x in perms.get("secrets") or []],
            }
        )
    return {"tenant_id": props.tenant_id, "rbac": bool(props.enable_rbac_authorization), "policies": policies}


@arm_op("key_vault_policy_add", "PUT")
def key_vault_policy_add(c: Clients, rg: str, vm: str, args: dict[str, Any]) -> dict[str, Any]:
    policy = {
        "tenantId": args["tenant_id"],
        "objectId": args["object_id"],
        "permissions": {"keys": list(args["keys"]), "secrets": list(args["secrets"])},
    }
    c.keyvault.vaults.update_access_policy(
        args["resource_group"], args["name"], "add", {"properties": {"accessPolicies": [policy]}}
    )
    return {"added": args["object_id"]}


class ARMConnection(Connection):
    kind: ClassVar[str] = "azure-arm"

    def __init__(self, host: Any, options: ConnectOptions | None = None, log: Any = None) -> None:
        super().__init__(host, options, log)
        self.resource_group, self.vm_name, _sub = vm_of(host)

    def _execute(self, op: Operation) -> Result:
        spec = ARM_OPERATIONS.get(op.script)
        if spec is None:
            raise ConfigError(
                f"{op.script} is not an ARM operation",
                host=self.host.name,
                step=op.script,
                hint="Azure-side remediations run over the azure-arm connection only",
            )
        if not op.mutating and spec.method != "GET":
            raise ConfigError(
                f"{op.script} is a {spec.method}: it must be declared mutating", host=self.host.name, step=op.script
            )
        clients = clients_for(self.host, self.options)
        try:
            data = spec.run(clients, self.resource_group, self.vm_name, dict(op.args))
        except Exception as exc:
            raise translate(exc, self.host.name, op.script, mutating=op.mutating) from None
        return Result(data=data)


def arm_host(name: str, vm_id: str, os: str | None = None, **vars_: Any) -> Any:
    """The inventory host an Azure-side remediation runs on: the VM's resource."""
    from remediate.inventory.host import Host

    parts = vm_id.split("/")
    sub = parts[2] if len(parts) > 2 else None
    return Host(
        name,
        None,
        None,
        os,
        "azure-arm",
        None,
        ["azure"],
        {
            "azure_id": vm_id,
            "azure_subscription": sub,
            "azure_resource_group": resource_group_of(vm_id),
            "azure_name": parts[-1],
            **vars_,
        },
    )
