"""The runbooks that start from Azure: VMs named by Azure name or resource id, the sweep over a vault's failed
backups, and the failed-backup alert. All three drive :mod:`remediate.azure` (the failed-backups loop) and
write the Output stream of :mod:`remediate.automation.output`.

Remediation is a dry-run unless ``--apply`` or the Automation variable ``remediate-apply`` (environment
``REMEDIATE_APPLY``) says otherwise; the on-demand backup after a fix likewise needs ``--retrigger`` or
``remediate-retrigger``. A VM whose fix failed, could not be reached, or whose new backup failed makes the job
end Failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from remediate.automation.entry import DEFAULT_CREDENTIAL, argv_of, select_hosts
from remediate.automation.output import host_line, raise_if_failed, summary_of
from remediate.automation.settings import Settings
from remediate.errors import ConfigError

_VM_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
    r"/virtualMachines/(?P<vm>[^/]+)/?$",
    re.IGNORECASE,
)


def _loop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--apply", action="store_true", help="apply the fixes (default: dry-run, or remediate-apply)")
    p.add_argument("--retrigger", action="store_true", help="start an on-demand backup after a fix")
    p.add_argument("--wait", type=float, default=3600.0, metavar="S", help="how long to wait for that backup")
    p.add_argument("--credential", default=DEFAULT_CREDENTIAL, help="credential asset for WinRM/SSH hosts")
    p.add_argument("-i", "--inventory", action="append", default=[], help="hosts reached over WinRM/SSH")
    p.add_argument("--az-vm-list", action="append", default=[])
    p.add_argument("--journal-dir")


def _decide(args: argparse.Namespace, settings: Settings) -> tuple[bool, bool]:
    apply = bool(args.apply) or settings.flag("remediate-apply")
    retrigger = bool(args.retrigger) or settings.flag("remediate-retrigger")
    return apply, retrigger


def _inventory(args: argparse.Namespace) -> list[Any]:
    ns = argparse.Namespace(inventory=args.inventory, az_vm_list=args.az_vm_list, host=[], limit=None, shard=None)
    return select_hosts(ns) if (args.inventory or args.az_vm_list) else []


def _run_loop(clients: Any, args: argparse.Namespace, settings: Settings, **scope: Any) -> Any:
    from remediate import playbook
    from remediate.azure import loop
    from remediate.connection import ConnectOptions

    apply, retrigger = _decide(args, settings)
    user, _ = settings.credential(args.credential)
    run = playbook.RunOptions(journal_dir=args.journal_dir, connect=ConnectOptions(user=user))
    options = loop.LoopOptions(remediate=True, retrigger=retrigger and apply, dry_run=not apply, assume_yes=apply,
                               wait=args.wait, inventory=_inventory(args), run=run, **scope)  # fmt: skip
    return loop.run(clients, options)


def _vm_status(vm: Any) -> tuple[str, str]:
    """One status per VM: the fix's, turned ``failed`` when the backup after it did not succeed."""
    status, reason = vm.fix_status or "skipped", vm.fix_reason or ""
    backup = vm.backup or {}
    if backup:
        if backup.get("status") in ("Completed", "CompletedWithWarnings"):
            reason = (reason + "; " if reason else "") + "backup succeeded"
        else:
            status, reason = "failed", (reason + "; " if reason else "") + str(backup.get("summary") or backup)
    return status, reason


def emit_loop(report: Any, write: Callable[[str], Any], **fields: Any) -> dict[str, Any]:
    hosts: dict[str, str] = {}
    reasons: dict[str, str] = {}
    codes: dict[str, Any] = {}
    for vm in report.vms:
        status, reason = _vm_status(vm)
        hosts[vm.vm], reasons[vm.vm], codes[vm.vm] = status, reason, vm.error_code
        write(host_line(vm.vm, status, reason, str(vm.error_code or "")))
    summary = summary_of(hosts, reasons, run_id=report.run_id, dry_run=report.dry_run, error_codes=codes, **fields)
    write(json.dumps(summary, ensure_ascii=False, separators=(",", ":"), default=str))
    return summary


def _clients(subscription: str | None) -> Any:
    from remediate.azure.clients import AzureConfig, Clients

    return Clients(AzureConfig.load(subscription=subscription))


def sweep(argv: Sequence[str], settings: Settings | None = None, write: Callable[[str], Any] = print) -> dict:
    """On a schedule: every VM of a vault, resource group or subscription whose latest backup failed."""
    p = argparse.ArgumentParser(prog="remediate_sweep")
    p.add_argument("--subscription")
    p.add_argument("--vault")
    p.add_argument("--resource-group", help="the vault's resource group, or the resource group to sweep")
    p.add_argument("--since-days", type=float, default=None, help="backup jobs of the last N days (default 30)")
    _loop_args(p)
    args = p.parse_args(argv_of(argv))
    _quiet()
    settings = settings or Settings()
    clients = _clients(args.subscription or settings.variable("remediate-subscription"))
    since = None
    if args.since_days:
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=args.since_days)
    vault = args.vault or settings.variable("remediate-vault")
    group = args.resource_group or settings.variable("remediate-vault-resource-group")
    report = _run_loop(clients, args, settings, vault=vault, resource_group=group, since=since)
    summary = emit_loop(report, write, scope={"vault": vault, "resource_group": group})
    raise_if_failed(summary, "remediate sweep")
    return summary


def from_alert(argv: Sequence[str], settings: Settings | None = None, write: Callable[[str], Any] = print) -> dict:
    """A failed-backup alert: find the VM and the failed job, diagnose, fix (dry-run unless told), report."""
    from remediate.automation import alert as alerts

    p = argparse.ArgumentParser(prog="remediate_from_alert")
    p.add_argument("--payload", help="the alert's common-alert-schema JSON (or @FILE)")
    p.add_argument("--vault-id", help="the vault's resource id (what the webhook runbook passes)")
    p.add_argument("--vm-id", help="the VM's resource id, when the alert carries it")
    p.add_argument("--job-id", help="the failed backup job's id")
    _loop_args(p)
    args = p.parse_args(argv_of(argv))
    _quiet()
    settings = settings or Settings()
    if args.payload:
        text = args.payload
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as fh:
                text = fh.read()
        alert = alerts.parse(text)
    elif args.vault_id:
        context: dict[str, Any] = {"extendedInfo": {"jobId": args.job_id}}
        if args.vm_id:
            context["linkedResourceId"] = args.vm_id
        body = {"data": {"essentials": {"alertTargetIDs": [args.vault_id]}, "alertContext": context}}
        alert = alerts.parse(body)
    else:
        raise ConfigError("give the alert: --payload JSON, or --vault-id (with --job-id, --vm-id)")
    if alert.condition and str(alert.condition).lower() == "resolved":
        write(f"alert {alert.rule or ''} resolved: nothing to do")
        return summary_of({}, {}, alert=alert.to_dict())
    clients = _clients(alert.subscription)
    job_info: dict[str, Any] = {}
    if alert.job_id:
        job_info = _read_job(clients, alert)
        alert.vm = alert.vm or job_info.get("vm")
        write(f"alert: job {alert.job_id} of {alert.vm or '?'} in vault {alert.vault}: {job_info.get('status')}"
              + (f" {job_info['error_code']}" if job_info.get("error_code") else "")
              + (f" - {job_info['error_message']}" if job_info.get("error_message") else ""))  # fmt: skip
        if job_info.get("status") not in ("Failed", None):
            write("the job did not fail: nothing to do")
            return summary_of({}, {}, alert=alert.to_dict(), job=job_info)
    if not alert.vm:
        raise ConfigError("the alert names no VM and its job could not be read", hint="pass --vm-id")
    report = _run_loop(clients, args, settings, vault=alert.vault, resource_group=alert.vault_resource_group,
                       vms=[alert.vm])  # fmt: skip
    if not report.vms:
        write(f"{alert.vm}: ok - its latest backup job no longer failed")
    summary = emit_loop(report, write, alert={"vault": alert.vault, "vm": alert.vm, "job": alert.job_id},
                        job=job_info or None)  # fmt: skip
    raise_if_failed(summary, "remediate (alert)")
    return summary


def _read_job(clients: Any, alert: Any) -> dict[str, Any]:
    """The backup job the alert names: its VM, status and error code (the alert itself carries no code)."""
    from remediate.azure import backups
    from remediate.diagnose import diagnose

    job = clients.backup.job_details.get(alert.vault, alert.vault_resource_group, alert.job_id)
    props = job.properties
    text, message = backups.job_error_text(job)
    matches = diagnose(text) if text else []
    code = None
    if matches:
        code = matches[0].matched if matches[0].kind == "code" else matches[0].row.code
    status = getattr(props, "status", None)
    return {
        "vm": getattr(props, "entity_friendly_name", None),
        "status": str(getattr(status, "value", status)) if status else None,
        "error_code": code,
        "error_message": message,
    }


def named_azure_vms(names: Sequence[str], subscription: str | None, resource_group: str | None) -> list[Any]:
    """Hosts reached over Run Command for VMs given by resource id, or by name (in ``resource_group``, or
    anywhere in the subscription), read from the live inventory (``azure://SUB[/RG]?connection=azure-runcommand``):
    power state and agent status come with them, and a stopped VM is reported, not tried."""
    from remediate.inventory import load_inventory

    loaded: dict[str, Any] = {}

    def inventory(sub: str | None, rg: str | None) -> Any:
        url = f"azure://{sub or '-'}" + (f"/{rg}" if rg else "") + "?connection=azure-runcommand"
        if url not in loaded:
            loaded[url] = load_inventory(url)
        return loaded[url]

    found: list[Any] = []
    for name in names:
        m = _VM_ID.match(name)
        if m:
            hosts = [h for h in inventory(m["sub"], m["rg"]).hosts
                     if str(h.vars.get("azure_id", "")).lower() == name.rstrip("/").lower()]  # fmt: skip
        else:
            hosts = [h for h in inventory(subscription, resource_group).hosts
                     if str(h.vars.get("azure_name", h.name)).lower() == name.lower()]  # fmt: skip
        if len(hosts) != 1:
            where = f"resource group {resource_group}" if resource_group else "the subscription"
            raise ConfigError(f"VM {name!r}: {len(hosts)} VMs of that name in {where}",
                              hint="give its resource id, or --vm-resource-group")  # fmt: skip
        found.append(hosts[0])
    return found


def _quiet() -> None:
    from remediate.log import configure

    configure(level="critical", stream=sys.stdout)
