"""vss-copy-backup: make the backup extension take VSS copy backups instead of full backups.

Answers the seed row
"SQL Server のバックアップが構成されている VM はスナップショット タスクの遅延を引き起こすことがあります"
(on a VM whose SQL Server has its own backups configured, the snapshot task is delayed): by default VM backup
issues a VSS full backup, which waits for SQL Server's own backup chain; a copy backup does not.

Check: ``HKLM\\SOFTWARE\\Microsoft\\BcdrAgent`` value ``USEVSSCOPYBACKUP``.

Change: set it to the string ``TRUE`` (REG_SZ). A REG_DWORD or any other type is wrong and is replaced; the
key is created when missing. Undo writes the previous value back, or removes the value when there was none.

Verify: read the value back.

Example::

    remediate --host vm1 vss-copy-backup --dry-run
    remediate -i inventory.yml vss-copy-backup

This is the smallest remediation: a new registry fix starts as a copy of this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediate.remediations.common.windows import RegistryValue

from remediate.contract import Finding, Plan, Remediation, Risk

if TYPE_CHECKING:
    from remediate.connection import Connection

KEY = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgent"
NAME = "USEVSSCOPYBACKUP"
WANTED = ("TRUE", "REG_SZ")


class VssCopyBackup(Remediation[RegistryValue]):
    """Set ``USEVSSCOPYBACKUP`` = ``TRUE`` (REG_SZ) so that SQL Server VMs are snapshotted with a copy backup."""

    slug = "vss-copy-backup"
    title = "Use VSS copy backups (SQL Server VMs)"
    os = "windows"
    risk = Risk.SAFE
    answers = (
        "SQL Server のバックアップが構成されている VM はスナップショット タスクの遅延を引き起こすことがあります",
    )
    example = "remediate --host vm1 vss-copy-backup --dry-run"
    order = 80

    def check(self, conn: Connection) -> RegistryValue:
        return RegistryValue.read(conn, KEY, NAME)

    def findings(self, state: RegistryValue) -> list[Finding]:
        seen = f"{state.data!r} ({state.type})" if state.exists else "not set"
        return [Finding(f"{KEY}\\{NAME}", seen, state.equals(*WANTED), "wanted: 'TRUE' (REG_SZ)")]

    def plan(self, state: RegistryValue) -> Plan:
        if state.equals(*WANTED):
            return Plan()
        return Plan([state.change_to(*WANTED, summary=f"set {NAME} to TRUE (REG_SZ)")])
