"""From the vault's failed jobs to green backups: find, diagnose, fix, back up again.

The Python API behind ``remediate azure failed-backups`` (and what an Azure Automation runbook calls)::

    from remediate.azure.clients import AzureConfig, Clients
    from remediate.azure import loop

    clients = Clients(AzureConfig.load())                        # DefaultAzureCredential, the public cloud
    report = loop.run(clients, loop.LoopOptions(remediate=True, retrigger=True, assume_yes=True))
    for vm in report.vms:
        print(vm.vm, vm.error_code, vm.fix_status, vm.backup)

For each VM whose latest backup job failed: the catalog row of its error names the remediations. Azure-side
ones run over the ``azure-arm`` connection (ARM requests; the VM's resource is the host). In-guest ones run
over WinRM or SSH when the inventory has the VM (matched by ``azure_name`` or name), else over Run Command.
A stopped VM is reported, not tried. With ``retrigger``, a VM whose fix ended ok or changed gets an on-demand
backup and a bounded wait for its job: "backup succeeded" or the new error code. Each remediation run has its
journal as every run does; the triggers are journaled too, the intent before the request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from remediate.azure.backups import BackupOutcome, FailedBackup, failed_backups, trigger_backup

if TYPE_CHECKING:
    import datetime

    from remediate.azure.clients import Clients
    from remediate.inventory.host import Host


@dataclass
class LoopOptions:
    vault: str | None = None
    resource_group: str | None = None
    since: datetime.datetime | None = None
    remediate: bool = False
    retrigger: bool = False
    dry_run: bool = False
    assume_yes: bool = False
    wait: float = 3600.0  # seconds to wait for each new backup job
    inventory: Sequence[Host] = ()
    vms: Sequence[str] = ()  # only these VMs (by name, case-insensitive); empty: every failed VM of the scope
    run: Any = None  # playbook.RunOptions for the remediation runs (connection settings, retries, journal dir)
    sleep: Callable[[float], None] = time.sleep


@dataclass
class VmResult:
    vm: str
    resource_group: str
    error_code: str | None
    error_message: str
    cause: str | None
    os: str | None = None
    power_state: str | None = None
    in_guest: list[str] = field(default_factory=list)
    azure_side: list[str] = field(default_factory=list)
    connection: str | None = None
    fix_status: str | None = None  # ok, changed, pending (dry-run), failed, unreachable, skipped; None: not asked
    fix_reason: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    backup: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class LoopReport:
    run_id: str
    dry_run: bool
    vms: list[VmResult]
    journal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        backups = [v.backup for v in self.vms if v.backup and v.backup.get("succeeded") is not None]
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "journal": self.journal,
            "summary": {
                "failed_vms": len(self.vms),
                "fixed": sum(1 for v in self.vms if v.fix_status in ("ok", "changed", "pending")),
                "backups_succeeded": sum(1 for b in backups if b["succeeded"]),
                "backups_failed": sum(1 for b in backups if not b["succeeded"]),
            },
            "vms": [v.to_dict() for v in self.vms],
        }

    @property
    def all_green(self) -> bool:
        return all(v.backup and v.backup.get("succeeded") for v in self.vms)


TAG_PREFIX = "remediate."


def tag_vars(tags: dict[str, str] | None) -> dict[str, str]:
    """Remediation parameters a VM carries as tags: ``remediate.NAME=VALUE`` (e.g. ``remediate.waagent_conf``)."""
    return {k[len(TAG_PREFIX) :]: v for k, v in (tags or {}).items() if k.startswith(TAG_PREFIX)}


def _vm_facts(clients: Clients, row: FailedBackup) -> tuple[str | None, str | None]:
    """``(os, power state)`` of the VM (GETs); its ``remediate.*`` tags are kept on the row."""
    vm = clients.compute.virtual_machines.get(row.resource_group, row.vm)
    row.tags = dict(getattr(vm, "tags", None) or {})
    os_type = getattr(getattr(getattr(vm, "storage_profile", None), "os_disk", None), "os_type", None)
    view = clients.compute.virtual_machines.instance_view(row.resource_group, row.vm)
    from remediate.azure.clients import status_of

    power = status_of(getattr(view, "statuses", None), "PowerState")
    return (str(os_type).lower().rsplit(".", 1)[-1] if os_type else None), power


def _inventory_host(inventory: Sequence[Host], row: FailedBackup) -> Host | None:
    for h in inventory:
        name = str(h.vars.get("azure_name") or h.name).lower()
        rg = str(h.vars.get("azure_resource_group") or "").lower()
        if name == row.vm.lower() and (not rg or rg == row.resource_group.lower()):
            return h
    return None


def _runcommand_host(row: FailedBackup, os_name: str | None, clients: Clients) -> Host:
    from remediate.inventory.host import Host

    return Host(
        row.vm,
        None,
        None,
        os_name,
        "azure-runcommand",
        None,
        ["azure"],
        {
            "azure_name": row.vm,
            "azure_resource_group": row.resource_group,
            "azure_subscription": clients.subscription,
            "azure_id": row.vm_id,
            **({"azure_config": clients.config.path} if clients.config.path else {}),
            **tag_vars(row.tags),
        },
    )


def run(clients: Clients, options: LoopOptions | None = None) -> LoopReport:
    from remediate import diagnose, playbook
    from remediate.connection.arm import arm_host
    from remediate.journal import Journal

    options = options or LoopOptions()
    run_id = "azure-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    base = options.run or playbook.RunOptions()
    base = replace(base, dry_run=options.dry_run, assume_yes=options.assume_yes, stop_when_healthy=True)
    base.connect = replace(base.connect, extra={**base.connect.extra, "azure": clients.config})
    journal = None
    if not options.dry_run and (options.remediate or options.retrigger):
        journal = Journal(base.journal_dir, run_id)
    rows = failed_backups(clients, vault=options.vault, resource_group=options.resource_group, since=options.since)
    if options.vms:
        wanted = {v.lower() for v in options.vms}
        rows = [r for r in rows if r.vm.lower() in wanted]

    def one(row: FailedBackup) -> VmResult:
        res = VmResult(
            row.vm,
            row.resource_group,
            row.error_code,
            row.error_message,
            row.cause,
            azure_side=list(diagnose.azure_remediations_for(row.error_code or row.error_message)),
        )
        try:  # one VM failing never stops the others
            _one(clients, row, res, options, base, journal, arm_host)
        except Exception as exc:
            from remediate.log import scrub

            message = scrub(f"{type(exc).__name__}: {exc}")[:1000]
            if res.fix_status is None and options.remediate:
                res.fix_status, res.fix_reason = "failed", message
            elif options.retrigger and res.backup is None:
                res.backup = {"status": "NotStarted", "succeeded": False, "summary": f"backup not started: {message}"}
            else:
                res.fix_status, res.fix_reason = res.fix_status or "failed", message
        return res

    # VMs in parallel (--forks); each VM's steps in order: fix, then its new backup.
    with ThreadPoolExecutor(max_workers=max(1, min(base.forks, len(rows) or 1)), thread_name_prefix="azure") as pool:
        results = list(pool.map(one, rows))
    return LoopReport(run_id, options.dry_run, results, str(journal.path) if journal else None)


def _one(
    clients: Clients, row: FailedBackup, res: VmResult, options: LoopOptions, base: Any, journal: Any, arm_host: Any
) -> None:
    from remediate import diagnose

    if not row.vm_id:
        if options.remediate or options.retrigger:
            res.fix_status = "failed"
            res.fix_reason = f"{row.vm} is no longer a protected item of {row.vault} (deleted or moved)"
        return
    res.os, res.power_state = _vm_facts(clients, row)
    res.in_guest = diagnose.remediations_for(row.error_code or row.error_message, os=res.os)
    if not options.remediate and not options.retrigger:
        return
    if res.power_state not in (None, "running"):
        res.fix_status, res.fix_reason = "skipped", f"the VM is {res.power_state}: not tried"
        return
    if options.remediate:
        _fix(clients, row, res, options, base, arm_host)
    if options.retrigger:
        _retrigger(clients, row, res, options, journal)


def _fix(clients: Clients, row: FailedBackup, res: VmResult, options: LoopOptions, base: Any, arm_host: Any) -> None:
    from remediate import playbook

    if not res.in_guest and not res.azure_side:
        res.fix_status = "failed"
        res.fix_reason = "no remediation for this error" + (f": {row.action}" if row.action else "")
        return
    statuses: list[str] = []
    reasons: list[str] = []
    if res.azure_side:
        extra = {"azure_config": clients.config.path} if clients.config.path else {}
        host = arm_host(row.vm, row.vm_id or "", res.os, **extra)
        report = playbook.run([host], res.azure_side, base)
        _record(res, report, "azure-arm", statuses, reasons)
    if res.in_guest and "failed" not in statuses:
        host = _inventory_host(options.inventory, row) or _runcommand_host(row, res.os, clients)
        res.connection = host.transport
        report = playbook.run([host], res.in_guest, base)
        _record(res, report, host.transport, statuses, reasons)
    elif res.azure_side:
        res.connection = "azure-arm"
    order = ("unreachable", "failed", "skipped", "changed", "pending", "ok")
    res.fix_status = next(s for s in order if s in statuses)
    res.fix_reason = "; ".join(reasons)


def _record(res: VmResult, report: Any, connection: str, statuses: list[str], reasons: list[str]) -> None:
    (host,) = report.hosts
    steps = [s.status for s in host.steps]
    if "changed" in steps or "pending" in steps:  # a remediation changed something (or, in dry-run, would): the fix
        status = "changed" if "changed" in steps else "pending"
    elif host.status == "unreachable" or "unreachable" in steps:
        status = "unreachable"
    elif "failed" in steps:  # none changed anything and one failed: the error is not fixed
        status = "failed"
    else:
        status = host.status
    statuses.append(status)
    detail = "; ".join(f"{s.remediation}: {s.status}: {s.reason}" for s in host.steps) or host.reason
    reasons.append(f"{connection}: {detail}")
    res.runs.append(
        {
            "connection": connection,
            "run_id": report.run_id,
            "journal": report.journal,
            "status": host.status,
            "reason": host.reason,
            "host": host.to_dict(),
        }
    )


def _retrigger(clients: Clients, row: FailedBackup, res: VmResult, options: LoopOptions, journal: Any) -> None:
    if options.remediate and res.fix_status not in ("ok", "changed", "pending"):
        res.backup = {"summary": "not triggered: the fix did not end ok", "succeeded": False, "status": "NotStarted"}
        return
    if options.dry_run:
        res.backup = {
            "summary": "dry-run: an on-demand backup would be triggered",
            "succeeded": None,
            "status": "NotStarted",
        }
        return
    if journal:
        journal.write("backup-trigger", vm=row.vm, resource_group=row.resource_group, vault=row.vault)
    outcome: BackupOutcome = trigger_backup(clients, row, timeout=options.wait, sleep=options.sleep)
    res.backup = {**outcome.to_dict(), "succeeded": outcome.succeeded}
    if journal:
        journal.write("backup-result", **res.backup)
