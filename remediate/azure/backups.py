"""Failed backup jobs of Azure VMs, and the on-demand backup that proves a fix.

:func:`failed_backups` reads the Recovery Services vaults of a scope (one vault, a resource group or the whole
subscription) with azure-mgmt-recoveryservicesbackup: the backup jobs since a time, the latest per VM, and for
each VM whose latest job failed its error, the catalog row that explains it and the remediations ``diagnose``
names. :func:`trigger_backup` starts an on-demand backup the way ``az backup protection backup-now`` does
(trigger, then the operation status, then the job) and waits, bounded, for the job's end.

The job's named error code is read from any of the error fields (``errorTitle``, ``errorString``,
``recommendations``, ``extendedInfo.dynamicErrorMessage``): ``errorCode`` is an integer in the REST schema and
where the portal's "Error code" string sits is not documented, so the text is matched by :mod:`remediate.diagnose`
by code or by message, as an operator's pasted text is.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from remediate.azure.clients import Clients, resource_group_of
from remediate.errors import RemediateError

JOB_TIME = "%Y-%m-%d %I:%M:%S %p"  # the $filter date format az CLI uses
DEFAULT_SINCE = datetime.timedelta(days=30)
FABRIC = "Azure"


@dataclass
class Vault:
    name: str
    resource_group: str


@dataclass
class FailedBackup:
    """The latest backup job of one VM, failed."""

    vm: str
    resource_group: str
    vm_id: str | None
    os: str | None
    vault: str
    vault_resource_group: str
    container: str | None
    item: str | None
    job: str
    start_time: str | None
    error_code: str | None
    error_message: str
    row: str | None = None
    cause: str | None = None
    in_guest: bool | None = None
    remediations: list[str] = field(default_factory=list)
    action: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _get(obj: Any, *names: str) -> Any:
    """A nested field by its SDK attribute name; a base model the SDK could not specialise (hybrid models keep
    the wire's camelCase keys) is read by key."""
    for name in names:
        if obj is None:
            return None
        value = getattr(obj, name, None) if not isinstance(obj, dict) else None
        if value is None and hasattr(obj, "get"):
            try:
                value = obj.get(_camel(name), obj.get(name))
            except TypeError:
                value = None
        obj = value
    return obj


def vaults(clients: Clients, *, vault: str | None = None, resource_group: str | None = None) -> list[Vault]:
    """The vaults of the scope: the named one (its resource group required), a resource group's, or all."""
    if vault:
        if not resource_group:
            found = [v for v in vaults(clients) if v.name.lower() == vault.lower()]
            if not found:
                raise RemediateError(
                    f"no Recovery Services vault {vault!r} in subscription {clients.subscription}",
                    step="azure",
                    hint="give its resource group with --resource-group",
                )
            return found
        return [Vault(vault, resource_group)]
    ops = clients.vaults.vaults
    listed = ops.list_by_resource_group(resource_group) if resource_group else ops.list_by_subscription_id()
    return [Vault(v.name, resource_group_of(v.id)) for v in listed]


def job_error_text(job: Any) -> tuple[str, str]:
    """``(text to diagnose, the message to show)`` from a job's error fields."""
    props = job.properties
    parts: list[str] = []
    message = ""
    for err in _get(props, "error_details") or []:
        title, text = _get(err, "error_title") or "", _get(err, "error_string") or ""
        message = message or text
        parts += [title, text, *(_get(err, "recommendations") or [])]
    dynamic = _get(props, "extended_info", "dynamic_error_message")
    if dynamic:
        parts.append(dynamic)
        message = message or dynamic
    return "\n".join(p for p in parts if p), message


def _code_from(text: str) -> tuple[str | None, Any]:
    from remediate import diagnose

    matches = diagnose.diagnose(text) if text else []
    if not matches:
        return None, None
    best = matches[0]
    code = best.matched if best.kind == "code" else best.row.code
    return code, best.row


def _filter(since: datetime.datetime, until: datetime.datetime) -> str:
    return (
        f"startTime eq '{since.strftime(JOB_TIME)}' and endTime eq '{until.strftime(JOB_TIME)}' "
        "and operation eq 'Backup' and backupManagementType eq 'AzureIaasVM'"
    )


def failed_backups(
    clients: Clients,
    *,
    vault: str | None = None,
    resource_group: str | None = None,
    since: datetime.datetime | None = None,
) -> list[FailedBackup]:
    """One row per VM whose latest backup job (since ``since``, default 30 days) failed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    since = since or now - DEFAULT_SINCE
    rows: list[FailedBackup] = []
    for v in vaults(clients, vault=vault, resource_group=resource_group):
        items = {}
        for item in clients.backup.backup_protected_items.list(
            v.name, v.resource_group, filter="backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"
        ):
            name = (_get(item.properties, "friendly_name") or "").lower()
            items[name] = item
        latest: dict[str, Any] = {}
        # The filter's times have whole seconds: the end is a minute ahead so a job started this second is in.
        until = now + datetime.timedelta(minutes=1)
        for job in clients.backup.backup_jobs.list(v.name, v.resource_group, filter=_filter(since, until)):
            vm = (_get(job.properties, "entity_friendly_name") or "").lower()
            start = _get(job.properties, "start_time")
            if vm and (vm not in latest or (start and start > _get(latest[vm].properties, "start_time"))):
                latest[vm] = job
        for vm, job in sorted(latest.items()):
            if _get(job.properties, "status") != "Failed":
                continue
            item = items.get(vm)
            source = _get(item, "properties", "source_resource_id") or _get(item, "properties", "virtual_machine_id")
            text, message = job_error_text(job)
            code, row = _code_from(text)
            start = _get(job.properties, "start_time")
            rows.append(
                FailedBackup(
                    vm=_get(job.properties, "entity_friendly_name"),
                    resource_group=resource_group_of(source) if source else "",
                    vm_id=source,
                    os=None,
                    vault=v.name,
                    vault_resource_group=v.resource_group,
                    container=_container_of(item),
                    item=_get(item, "name"),
                    job=job.name,
                    start_time=start.isoformat() if hasattr(start, "isoformat") else start,
                    error_code=code,
                    error_message=message,
                    row=row.id if row else None,
                    cause=row.cause if row else None,
                    in_guest=row.in_guest if row else None,
                    remediations=list(row.remediations) if row else [],
                    action=row.action if row else None,
                )
            )
    return rows


def _container_of(item: Any) -> str | None:
    if item is None:
        return None
    m = re.search(r"/protectionContainers/([^/]+)/", item.id or "")
    return m.group(1) if m else f"iaasvmcontainer;{_get(item, 'properties', 'container_name')}"


@dataclass
class BackupOutcome:
    vm: str
    status: str  # Completed, Failed, InProgress (the wait ran out), NotStarted
    job: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status in ("Completed", "CompletedWithWarnings")

    def summary(self) -> str:
        if self.succeeded:
            return "backup succeeded"
        if self.status == "Failed":
            return f"backup failed: {self.error_code or 'unknown code'}: {self.error_message}"
        if self.status == "InProgress":
            return f"backup still running after the wait (job {self.job})"
        return f"backup not started: {self.error_message}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}


def trigger_backup(
    clients: Clients,
    row: FailedBackup,
    *,
    timeout: float = 3600.0,
    retention_days: int = 30,
    sleep: Callable[[float], None] = time.sleep,
) -> BackupOutcome:
    """An on-demand backup of the row's VM; waits at most ``timeout`` seconds for its job to end."""
    from azure.core.exceptions import HttpResponseError

    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=retention_days)
    body = {
        "properties": {
            "objectType": "IaasVMBackupRequest",
            "recoveryPointExpiryTimeInUTC": expiry.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    }
    deadline = time.monotonic() + timeout
    try:
        headers = clients.backup.backups.trigger(
            row.vault,
            row.vault_resource_group,
            FABRIC,
            row.container,
            row.item,
            body,
            cls=lambda response, _data, _headers: response.http_response.headers,
        )
    except HttpResponseError as exc:
        code = _get(exc, "error", "code") or str(exc.status_code)
        return BackupOutcome(row.vm, "NotStarted", error_code=code, error_message=_get(exc, "error", "message"))
    location = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""
    op = location.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    wait = _retry_after(headers)
    job_id = None
    while True:
        status = clients.backup.backup_operation_statuses.get(row.vault, row.vault_resource_group, op)
        if status.status != "InProgress":
            job_id = _get(status, "properties", "job_id")
            if status.status == "Failed" or not job_id:
                err = _get(status, "error")
                return BackupOutcome(
                    row.vm, "NotStarted", error_code=_get(err, "code"), error_message=_get(err, "message")
                )
            break
        if time.monotonic() >= deadline:
            return BackupOutcome(row.vm, "InProgress")
        sleep(wait)
    while True:
        job = clients.backup.job_details.get(row.vault, row.vault_resource_group, job_id)
        state = _get(job.properties, "status")
        if state not in ("InProgress", "Cancelling"):
            text, message = job_error_text(job)
            code, _row = _code_from(text)
            return BackupOutcome(row.vm, state, job_id, code, message or None)
        if time.monotonic() >= deadline:
            return BackupOutcome(row.vm, "InProgress", job_id)
        sleep(wait)


def _retry_after(headers: Any) -> float:
    try:
        return float(headers.get("Retry-After", 30))
    except (TypeError, ValueError):
        return 30.0
