"""snapshot-extension: remove a failed or stuck VMSnapshot / VMSnapshotLinux extension (Azure-side).

Answers UserErrorVmProvisioningStateFailed (the snapshot extension is in a failed state) and
ExtensionStuckInDeletionState (it is stuck being deleted): the page's action is to uninstall the extension;
the next backup installs it again.

Runs over the ``azure-arm`` connection (the "host" is the VM's resource), as ``remediate azure failed-backups
--remediate`` does. Check: ``virtual_machines.instance_view`` (GET). Change: ``DELETE .../extensions/{name}``
(a long-running operation) for each snapshot extension whose state is Failed, or Deleting. Undo: none (the
next backup reinstalls it). Verify: the instance view again.

Example::

    remediate -i 'azure://SUBSCRIPTION/RG?connection=azure-arm' snapshot-extension --dry-run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from remediate.remediations.common.azure import require_arm

from remediate.contract import Change, Finding, Plan, Remediation, Risk
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

SNAPSHOT_TYPES = ("vmsnapshot", "vmsnapshotlinux")
BAD_STATES = ("failed", "deleting", "failed/deleting")


@dataclass
class VmState:
    data: dict[str, Any]

    def snapshot_extensions(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.data.get("extensions") or []
            if str(e.get("type", "")).lower().rsplit(".", 1)[-1] in SNAPSHOT_TYPES
        ]

    def bad(self) -> list[dict[str, Any]]:
        return [e for e in self.snapshot_extensions() if str(e.get("state") or "").lower() in BAD_STATES]


class SnapshotExtension(Remediation[VmState]):
    """Uninstall the VM's snapshot extension when it failed or is stuck deleting; the next backup reinstalls it."""

    slug = "snapshot-extension"
    title = "Remove a failed or stuck VMSnapshot extension (Azure-side)"
    os = "any"
    risk = Risk.SAFE
    connection: ClassVar[str] = "azure-arm"
    answers = ("UserErrorVmProvisioningStateFailed", "ExtensionStuckInDeletionState")
    example = "remediate -i 'azure://SUB/RG?connection=azure-arm' snapshot-extension --dry-run"
    order = 200

    def check(self, conn: Connection) -> VmState:
        require_arm(conn, self.slug)
        return VmState(conn.run(read("arm/vm_state")).data or {})

    def findings(self, state: VmState) -> list[Finding]:
        return [
            Finding(f"extension {e['name']}", str(e.get("state")), e not in state.bad(), "Failed or Deleting: remove")
            for e in state.snapshot_extensions()
        ]

    def plan(self, state: VmState) -> Plan:
        changes = [
            Change(
                f"remove the {e.get('state')} extension {e['name']} (the next backup installs it again)",
                mutate("arm/extension_delete", name=e["name"]),
                before={"name": e["name"], "state": e.get("state")},
                after=None,
                undo_note="not undone: the next backup reinstalls the extension",
            )
            for e in state.bad()
        ]
        return Plan(changes)
