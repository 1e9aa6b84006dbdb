"""machinekeys-acl: give the MachineKeys folder its default permissions again.

Answers ExtensionConfigParsingFailure, seed row "構成の解析に失敗したため、スナップショット操作に失敗しました"
(the snapshot failed because the configuration could not be parsed): the extension cannot read its
certificates' private keys when the permissions of
``%SystemDrive%\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys`` were changed.

Check: the folder's security descriptor (SDDL from ``Get-Acl``) against the default
``O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)`` -- Everyone read/write and Administrators full control, this
folder only (``icacls`` shows ``Everyone:(R,W)``, ``BUILTIN\\Administrators:(F)``). The comparison is by
meaning: owner, group, the DACL's protected flag and the set of ACEs by SID and numeric mask, so reordered
ACEs, ``FA`` versus ``0x1f01ff`` or ``WD`` versus ``S-1-1-0`` are equal, and account names (which Japanese,
German or French Windows spell differently) are never read.

Change: the current ACL is saved on the host first (``icacls <folder> /save`` into
``%ProgramData%\\remediate\\backup\\MachineKeys-<UTC time>.icacls``), then the default descriptor is set on the
folder object only, with the administrator's privileges: the owner by ``icacls /setowner``, the DACL by
``icacls <RSA folder> /restore`` of a generated ACL file (both enable SeRestorePrivilege, so a folder whose DACL
no longer grants Administrators WRITE_DAC is fixed too), the group last. Nothing is recursive (no ``/t``): the
key files keep their explicit ACEs. Undo sets the saved SDDL back the same way.
Follow with ``extension-certs`` so that the agent creates fresh certificates.

Example::

    remediate --host vm1 machinekeys-acl --dry-run
    remediate -i inventory.yml machinekeys-acl --yes
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from remediate.remediations.machinekeys_acl.sddl import SddlError, SecurityDescriptor, parse

from remediate.contract import Change, Finding, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

DEFAULT_SDDL = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)"
DEFAULT = parse(DEFAULT_SDDL)


@dataclass
class MachineKeysAcl:
    """The MachineKeys folder as read from the host."""

    path: str
    exists: bool
    sddl: str | None

    @classmethod
    def read(cls, conn: Connection) -> MachineKeysAcl:
        data = conn.run(read("machinekeys_acl/get.ps1")).data or {}
        return cls(str(data.get("path") or ""), bool(data.get("exists")), data.get("sddl"))

    @property
    def descriptor(self) -> SecurityDescriptor | None:
        try:
            return parse(self.sddl or "")
        except SddlError:
            return None

    def differences(self) -> list[str]:
        """How the folder's permissions differ from the default; empty when they are the default."""
        if not self.exists:
            return [f"the folder {self.path} does not exist"]
        current = self.descriptor
        if current is None:
            return [f"the security descriptor {self.sddl!r} cannot be read as SDDL"]
        return current.differences(DEFAULT)


class MachineKeysAclRemediation(Remediation[MachineKeysAcl]):
    """Reset the MachineKeys folder's ACL to the default, folder only, with a saved copy on the host."""

    slug = "machinekeys-acl"
    title = "MachineKeys folder permissions back to the default"
    os = "windows"
    risk = Risk.DISRUPTIVE
    answers = (
        "ExtensionConfigParsingFailure",
        "構成の解析に失敗したため、スナップショット操作に失敗しました",
    )
    example = "remediate --host vm1 machinekeys-acl --dry-run"
    order = 30

    def check(self, conn: Connection) -> MachineKeysAcl:
        return MachineKeysAcl.read(conn)

    def findings(self, state: MachineKeysAcl) -> list[Finding]:
        diffs = state.differences()
        return [Finding(state.path or "MachineKeys", state.sddl or "(none)", not diffs, "; ".join(diffs))]

    def plan(self, state: MachineKeysAcl) -> Plan:
        if not state.exists:
            return Plan(notes=[f"{state.path} does not exist: nothing to set; the agent creates it when it starts"])
        diffs = state.differences()
        if not diffs:
            return Plan()
        change = Change(
            summary=f"set the default ACL {DEFAULT_SDDL} on {state.path} (folder only; current ACL saved first): "
            + "; ".join(diffs),
            operation=mutate("machinekeys_acl/set.ps1", sddl=DEFAULT_SDDL),
            before=state.sddl,
            after=DEFAULT_SDDL,
            undo=mutate("machinekeys_acl/set.ps1", sddl=state.sddl) if state.descriptor is not None else None,
            undo_note=None
            if state.descriptor is not None
            else "the previous descriptor was not valid SDDL; restore the icacls /save copy under "
            "%ProgramData%\\remediate\\backup\\ with icacls <RSA folder> /restore <file>",
        )
        return Plan([change])

    def verdict(self, state: MachineKeysAcl) -> Verdict:
        diffs = state.differences()
        return Verdict(compliant=not diffs, reasons=diffs, final=not state.exists)
