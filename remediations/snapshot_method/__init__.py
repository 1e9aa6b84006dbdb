"""snapshot-method: let the host take the snapshot first, and time it from the host.

Answers ExtensionFailedTimeoutVMNetworkUnresponsive (the snapshot timed out because the VM's network did not
respond): the backup extension is told to try a host-side snapshot first and to measure the snapshot time on
the host, so a slow guest no longer makes the snapshot task time out.

Check: ``HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys`` values ``SnapshotMethod`` and
``CalculateSnapshotTimeFromHost``.

Change: ``SnapshotMethod`` = ``firstHostThenGuest`` and ``CalculateSnapshotTimeFromHost`` = ``True``, both
REG_SZ (a value of another type is replaced; the key is created when missing). Undo writes each previous
value back, or removes it when there was none.

Verify: read both values back.

Example::

    remediate --host vm1 snapshot-method --dry-run
    remediate -i inventory.yml snapshot-method
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remediate.remediations.common.windows import RegistryValue

from remediate.contract import Finding, Plan, Remediation, Risk

if TYPE_CHECKING:
    from remediate.connection import Connection

KEY = "HKLM\\SOFTWARE\\Microsoft\\BcdrAgentPersistentKeys"
WANTED = {
    "SnapshotMethod": "firstHostThenGuest",
    "CalculateSnapshotTimeFromHost": "True",
}


class SnapshotMethod(Remediation[list[RegistryValue]]):
    """Set ``SnapshotMethod`` = ``firstHostThenGuest`` and ``CalculateSnapshotTimeFromHost`` = ``True``."""

    slug = "snapshot-method"
    title = "Snapshot from the host first, timed from the host"
    os = "windows"
    risk = Risk.SAFE
    answers = ("ExtensionFailedTimeoutVMNetworkUnresponsive",)
    example = "remediate --host vm1 snapshot-method --dry-run"
    order = 90

    def check(self, conn: Connection) -> list[RegistryValue]:
        results = conn.run_many([RegistryValue.operation(KEY, name) for name in WANTED])  # one round trip
        return [RegistryValue.from_data(KEY, name, r.data) for name, r in zip(WANTED, results, strict=True)]

    def findings(self, state: list[RegistryValue]) -> list[Finding]:
        return [
            Finding(
                f"{KEY}\\{value.name}",
                f"{value.data!r} ({value.type})" if value.exists else "not set",
                value.equals(WANTED[value.name], "REG_SZ"),
                f"wanted: {WANTED[value.name]!r} (REG_SZ)",
            )
            for value in state
        ]

    def plan(self, state: list[RegistryValue]) -> Plan:
        return Plan(
            [
                value.change_to(WANTED[value.name], "REG_SZ", f"set {value.name} to {WANTED[value.name]} (REG_SZ)")
                for value in state
                if not value.equals(WANTED[value.name], "REG_SZ")
            ]
        )
