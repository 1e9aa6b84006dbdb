"""keyvault-backup-access: let the Backup Management Service read an encrypted VM's keys (Azure-side).

Answers UserErrorKeyvaultPermissionsNotConfigured: the Backup Management Service (application id
262044b1-e2ce-469f-a196-69ab7ada62d3) needs an access policy on the Key Vault that holds the VM's disk
encryption keys: keys ``backup, get, list`` and secrets ``get, list``.

Runs over the ``azure-arm`` connection. Check (GETs): the VM's encryption settings name the Key Vault; the
vault's access policies. Change: ``PUT .../accessPolicies/add`` with that policy for ``object_id``, the
object id of the Backup Management Service's service principal in your tenant
(``az ad sp show --id 262044b1-e2ce-469f-a196-69ab7ada62d3 --query id``). A vault in RBAC mode ignores
access policies: then it is reported, not changed (grant the role instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from remediate.remediations.common.azure import require_arm

from remediate.contract import Change, Finding, Param, Plan, Remediation, Risk, Verdict
from remediate.operation import mutate, read

if TYPE_CHECKING:
    from remediate.connection import Connection

KEYS = ("backup", "get", "list")
SECRETS = ("get", "list")


@dataclass
class KvState:
    vault: dict[str, Any] | None
    key_vault: dict[str, Any] | None
    object_id: str | None

    def policy(self) -> dict[str, Any] | None:
        for p in (self.key_vault or {}).get("policies") or []:
            if self.object_id and str(p.get("object_id")).lower() == self.object_id.lower():
                return p
        return None

    def missing(self) -> dict[str, list[str]]:
        p = self.policy() or {}
        keys = {k.lower() for k in p.get("keys") or []}
        secrets = {s.lower() for s in p.get("secrets") or []}
        return {"keys": [k for k in KEYS if k not in keys], "secrets": [s for s in SECRETS if s not in secrets]}


class KeyVaultBackupAccess(Remediation[KvState]):
    """Add the Backup Management Service's access policy to the Key Vault of an encrypted VM."""

    slug = "keyvault-backup-access"
    title = "Key Vault access for the Backup Management Service (Azure-side)"
    os = "any"
    risk = Risk.SAFE
    connection: ClassVar[str] = "azure-arm"
    answers = ("UserErrorKeyvaultPermissionsNotConfigured",)
    params = (
        Param(
            "object_id",
            "object id of the Backup Management Service's service principal in your tenant",
            example="az ad sp show --id 262044b1-e2ce-469f-a196-69ab7ada62d3 --query id",
        ),
    )
    example = "remediate -i 'azure://SUB/RG?connection=azure-arm' keyvault-backup-access --param object_id=..."
    order = 202

    def check(self, conn: Connection) -> KvState:
        require_arm(conn, self.slug)
        vm = conn.run(read("arm/vm_state")).data or {}
        vault = vm.get("key_vault")
        kv = None
        if vault:
            kv = conn.run(read("arm/key_vault", resource_group=vault["resource_group"], name=vault["name"])).data
        return KvState(vault, kv, self.values.get("object_id"))

    def findings(self, state: KvState) -> list[Finding]:
        if not state.vault:
            return [Finding("disk encryption", "no Key Vault", True)]
        missing = state.missing()
        ok = not missing["keys"] and not missing["secrets"]
        return [Finding(f"Key Vault {state.vault['name']}", "policy complete" if ok else f"missing {missing}", ok)]

    def plan(self, state: KvState) -> Plan:
        if not state.vault or not state.key_vault:
            return Plan()
        missing = state.missing()
        if not missing["keys"] and not missing["secrets"]:
            return Plan()
        if state.key_vault.get("rbac"):
            return Plan(notes=[f"{state.vault['name']} uses Azure RBAC: grant the Backup Management Service a role"])
        if not state.object_id:
            return Plan(notes=["give --param object_id=<the Backup Management Service's object id in your tenant>"])
        v = state.vault
        return Plan(
            [
                Change(
                    f"let the Backup Management Service read keys and secrets of {v['name']}",
                    mutate(
                        "arm/key_vault_policy_add",
                        resource_group=v["resource_group"],
                        name=v["name"],
                        tenant_id=state.key_vault.get("tenant_id"),
                        object_id=state.object_id,
                        keys=list(KEYS),
                        secrets=list(SECRETS),
                    ),
                    before=state.policy(),
                    after={"keys": list(KEYS), "secrets": list(SECRETS)},
                    undo_note="not undone automatically: remove the policy in the portal if needed",
                )
            ]
        )

    def verdict(self, state: KvState) -> Verdict:
        if state.vault and state.key_vault and (state.missing()["keys"] or state.missing()["secrets"]):
            return Verdict(False, [f"the Backup Management Service lacks {state.missing()} on {state.vault['name']}"])
        return Verdict(True)
