"""The failed-backup alert, as Azure Monitor's common alert schema carries it to a webhook.

Azure Backup's built-in "Backup Failure" alert (Sev1, one per failed job) reaches an action group, whose
webhook (or the PowerShell runbook ``runbooks/Start-RemediateFromAlert.ps1`` behind an Automation webhook)
hands its body here. Its ``alertContext`` is not documented; what it carries in the captured payloads::

    {"schemaId": "azureMonitorCommonAlertSchema", "data": {
      "essentials": {"alertRule": "Backup Failure", "severity": "Sev1", "monitoringService": "Azure Backup",
        "alertTargetIDs": ["/subscriptions/S/resourcegroups/rg/providers/microsoft.recoveryservices/vaults/v1"]},
      "alertContext": {
        "sourceId": ".../virtualMachines/vm1/providers/Microsoft.RecoveryServices/backupProtectedItem/VM;...;vm1",
        "linkedResourceId": "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        "extendedInfo": {"jobId": "<guid>", "occurrenceCount": 1}}}}

No error code travels with it: the job named by ``jobId`` is read from the vault for that. Every field is
looked up case-insensitively (ARM ids arrive lower-cased) and any may be missing except the vault.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from remediate.errors import ConfigError

_VAULT = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.RecoveryServices"
    r"/vaults/(?P<vault>[^/]+)",
    re.IGNORECASE,
)
_VM = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/virtualMachines/(?P<vm>[^/]+)",
    re.IGNORECASE,
)


@dataclass
class BackupAlert:
    subscription: str
    vault_resource_group: str
    vault: str
    job_id: str | None = None
    vm: str | None = None
    vm_resource_group: str | None = None
    vm_id: str | None = None
    rule: str | None = None
    severity: str | None = None
    fired: str | None = None
    condition: str | None = None  # Fired / Resolved

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ci(obj: Any, *path: str) -> Any:
    """``obj[path...]`` with every key matched case-insensitively; None where any step is missing."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        if key in obj:
            obj = obj[key]
            continue
        obj = next((v for k, v in obj.items() if str(k).lower() == key.lower()), None)
    return obj


def parse(payload: str | dict[str, Any]) -> BackupAlert:
    """A common-alert-schema body (text or parsed) -> :class:`BackupAlert`; :class:`ConfigError` if no vault."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the alert payload is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(payload, dict):
        raise ConfigError("the alert payload is not a JSON object")
    essentials = _ci(payload, "data", "essentials") or {}
    context = _ci(payload, "data", "alertContext") or {}
    ids = [str(x) for x in (_ci(essentials, "alertTargetIDs") or [])]
    ids += [str(x) for x in (_ci(essentials, "configurationItems") or [])]
    ids.append(str(_ci(context, "sourceId") or ""))
    vault = next((m for m in map(_VAULT.search, ids) if m), None)
    if vault is None:
        raise ConfigError(
            "the alert names no Recovery Services vault (data.essentials.alertTargetIDs)",
            hint="is this Azure Backup's built-in Backup Failure alert, in the common alert schema?",
        )
    alert = BackupAlert(
        vault["sub"],
        vault["rg"],
        vault["vault"],
        job_id=_ci(context, "extendedInfo", "jobId") or _ci(context, "jobId"),
        rule=_ci(essentials, "alertRule"),
        severity=_ci(essentials, "severity"),
        fired=_ci(essentials, "firedDateTime"),
        condition=_ci(essentials, "monitorCondition"),
    )
    for text in (str(_ci(context, "linkedResourceId") or ""), str(_ci(context, "sourceId") or "")):
        m = _VM.search(text)
        if m:
            alert.vm, alert.vm_resource_group, alert.vm_id = m["vm"], m["rg"], m.group(0)
            break
    if alert.vm is None:  # the protected item's name: VM;iaasvmcontainerv2;<rg>;<vm>
        source = str(_ci(context, "sourceId") or "")
        m = re.search(r"backupProtectedItem/vm;iaasvmcontainerv2;([^;/]+);([^;/]+)", source, re.IGNORECASE)
        if m:
            alert.vm_resource_group, alert.vm = m.group(1), m.group(2)
    return alert
