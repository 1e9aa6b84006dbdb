"""restore-point-limit: clean the VM's restore point collection when a lock keeps Backup from doing it (Azure-side).

Answers UserErrorRpCollectionLimitReached: a VM keeps at most 18 instant restore points; Azure Backup deletes
the old ones itself, unless a lock on the restore point collection's resource group (``AzureBackupRG_<region>_<n>``)
forbids it. The page's action: remove the lock and clean the restore point collections.

Runs over the ``azure-arm`` connection. Check (GETs): the VM's location and id, the locks of the restore point
group, the VM's collections and their restore point counts. Changes, when a collection is at the limit: each
lock on the group removed (``DELETE .../locks/{name}``), the VM's collections deleted (``DELETE
.../restorePointCollections/{name}``, long-running), each lock created again as it was (``PUT``). The vault's
recovery points are not touched; the instant restore points of the VM go. Undo of a lock removal recreates
it. Verify: no collection at the limit.

Parameter ``restore_point_group``: the group's name, default ``AzureBackupRG_<VM's region>_1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from remediate.remediations.common.azure import require_arm

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

LIMIT = 18


@dataclass
class RpState:
    group: str
    vm_id: str
    locks: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)

    def full(self) -> list[dict[str, Any]]:
        return [c for c in self.collections if int(c.get("restore_points", 0)) >= LIMIT]


class RestorePointLimit(Remediation[RpState]):
    """Remove the lock on AzureBackupRG_*, delete the VM's restore point collections, put the lock back."""

    slug = "restore-point-limit"
    title = "Clean a restore point collection at its limit (lock removed and restored, Azure-side)"
    os = "any"
    risk = Risk.DESTRUCTIVE
    connection: ClassVar[str] = "azure-arm"
    answers = ("UserErrorRpCollectionLimitReached",)
    params = (
        Param(
            "restore_point_group",
            "resource group of the restore point collections (AzureBackupRG_<region>_<n>)",
            example="AzureBackupRG_japaneast_1",
        ),
    )
    example = "remediate -i 'azure://SUB/RG?connection=azure-arm' restore-point-limit --yes"
    order = 201

    def check(self, conn: Connection) -> RpState:
        require_arm(conn, self.slug)
        vm = conn.run(read("arm/vm_state")).data or {}
        group = self.values.get("restore_point_group") or f"AzureBackupRG_{vm.get('location')}_1"
        locks = conn.run(read("arm/locks", resource_group=group)).data or []
        rpcs = conn.run(read("arm/restore_point_collections", resource_group=group, vm_id=vm.get("id", ""))).data
        return RpState(group, str(vm.get("id", "")), list(locks), list(rpcs or []))

    def findings(self, state: RpState) -> list[Finding]:
        out = [
            Finding(
                f"collection {c['name']}",
                f"{c['restore_points']} restore points",
                c not in state.full(),
                f"limit {LIMIT}",
            )
            for c in state.collections
        ]
        out += [
            Finding(f"lock {x['name']} on {state.group}", x["level"], True, "kept, restored after cleanup")
            for x in state.locks
        ]
        return out

    def plan(self, state: RpState) -> Plan:
        full = state.full()
        if not full:
            return Plan()
        g = state.group
        changes = [
            Change(
                f"remove the lock {x['name']} ({x['level']}) on {g} for the cleanup",
                mutate("arm/lock_delete", resource_group=g, name=x["name"]),
                before=x,
                after=None,
                undo=mutate(
                    "arm/lock_create", resource_group=g, name=x["name"], level=x["level"], notes=x.get("notes", "")
                ),
            )
            for x in state.locks
        ]
        changes += [
            Change(
                f"delete the restore point collection {c['name']} ({c['restore_points']} restore points)",
                mutate("arm/restore_point_collection_delete", resource_group=g, name=c["name"]),
                before=c,
                after=None,
                undo_note="instant restore points cannot be restored; the vault's recovery points stay",
            )
            for c in state.collections
        ]
        changes += [
            Change(
                f"put the lock {x['name']} ({x['level']}) on {g} back",
                mutate("arm/lock_create", resource_group=g, name=x["name"], level=x["level"], notes=x.get("notes", "")),
                before=None,
                after=x,
                undo=mutate("arm/lock_delete", resource_group=g, name=x["name"]),
            )
            for x in state.locks
        ]
        return Plan(changes)
