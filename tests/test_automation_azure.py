"""The Azure-driven runbooks end to end on the lab: the scheduled sweep over a vault and the failed-backup
alert (a real-shaped common-alert-schema payload), through Microsoft's SDKs against the lab's ARM endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from runbook_env import ROOT, run_runbook, runbook_env

pytest.importorskip("azure.mgmt.recoveryservicesbackup")

from azure_lab import azure_lab
from remediate.lab.automation import write_assets

from remediate.automation import alert as alerts
from remediate.automation.output import parse_summary

pytestmark = pytest.mark.timeout(300)
BROKEN = {"win01": "windows-comsysapp-stopped", "win02": "windows-comsysapp-stopped", "win03": "healthy"}


def _failed_job(lab, vm: str) -> str:
    jobs = [j for j in lab.azure.settings()["jobs"] if j["vm"] == vm and j["status"] == "Failed"]
    return jobs[-1]["name"]


def _payload(lab, job_id: str, vm: str | None = None) -> dict:
    """What Azure Backup's built-in alert sends an action group (common alert schema); ids lower-cased as ARM
    sends them in alertTargetIDs."""
    sub = lab.azure.subscription
    vault = f"/subscriptions/{sub}/resourcegroups/lab-rg/providers/microsoft.recoveryservices/vaults/lab-vault"
    context: dict = {"category": "Jobs", "extendedInfo": {"jobId": job_id, "occurrenceCount": 1}}
    if vm:
        vm_id = f"/subscriptions/{sub}/resourceGroups/lab-rg/providers/Microsoft.Compute/virtualMachines/{vm}"
        context["linkedResourceId"] = vm_id
        context["sourceId"] = (
            vm_id + f"/providers/Microsoft.RecoveryServices/backupProtectedItem/VM;iaasvmcontainerv2;lab-rg;{vm}"
        )
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/0000",
                "alertRule": "Backup Failure",
                "severity": "Sev1",
                "signalType": "Log",
                "monitorCondition": "Fired",
                "monitoringService": "Azure Backup",
                "alertTargetIDs": [vault],
                "configurationItems": ["lab-vault"],
                "firedDateTime": "2026-12-01T03:12:44.000Z",
            },
            "alertContext": context,
            "customProperties": None,
        },
    }


def test_the_payload_is_read_as_azure_backup_sends_it() -> None:
    vm_id = "/subscriptions/S/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/vm1"
    vault = "/subscriptions/S/resourcegroups/rg/providers/microsoft.recoveryservices/vaults/v1"
    item = "/providers/Microsoft.RecoveryServices/backupProtectedItem/VM;iaasvmcontainerv2;rg1;vm1"
    context = {"sourceId": vm_id + item, "linkedResourceId": vm_id, "extendedInfo": {"jobId": "j-1"}}
    body = {"schemaId": "azureMonitorCommonAlertSchema",
            "data": {"essentials": {"alertTargetIDs": [vault]}, "alertContext": context}}  # fmt: skip
    a = alerts.parse(json.dumps(body))
    assert (a.subscription, a.vault_resource_group, a.vault, a.job_id) == ("S", "rg", "v1", "j-1")
    assert (a.vm, a.vm_resource_group, a.vm_id) == ("vm1", "RG1", vm_id)
    del body["data"]["alertContext"]["linkedResourceId"]
    body["data"]["alertContext"]["sourceId"] = "x/backupProtectedItem/VM;iaasvmcontainerv2;rg2;vm2"
    assert (alerts.parse(body).vm, alerts.parse(body).vm_resource_group) == ("vm2", "rg2")
    with pytest.raises(Exception, match="no Recovery Services vault"):
        alerts.parse({"data": {"essentials": {"alertTargetIDs": ["/subscriptions/S/x"]}}})


def test_the_webhook_runbook_passes_what_the_python_runbook_takes() -> None:
    shim = (ROOT / "runbooks" / "Start-RemediateFromAlert.ps1").read_text()
    passed = set(re.findall(r"'(--[a-z-]+)'", shim))
    assert passed == {"--vault-id", "--job-id", "--vm-id"}
    assert "'remediate_from_alert'" in shim
    python = (ROOT / "remediate" / "automation" / "azureflows.py").read_text()
    assert all(f'"{flag}"' in python for flag in passed)


def test_alert_with_only_the_job_id_fixes_that_vm_and_no_other(tmp_path: Path) -> None:
    with azure_lab(tmp_path, windows=BROKEN) as lab:
        job = _failed_job(lab, "win01")
        env = runbook_env(tmp_path, REMEDIATE_AZURE_CONFIG=str(lab.azure_config))
        payload = tmp_path / "alert.json"
        payload.write_text(json.dumps(_payload(lab, job)))
        # dry-run: no parameter and no variable says apply
        proc = run_runbook("remediate_from_alert.py", ["--payload", f"@{payload}"], env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"alert: job {job} of win01 in vault lab-vault: Failed ExtensionSnapshotFailedCOM" in proc.stdout
        summary = parse_summary(proc.stdout)
        assert summary["dry_run"] is True and summary["hosts"] == {"win01": "pending"}
        assert lab.state("win01").read()["machine"]["services"]["COMSysApp"]["status"] != "Running"
        # the Automation variables say apply and retrigger; the webhook runbook's arguments, as one JSON array
        assets = write_assets(tmp_path / "assets.json",
                              variables={"remediate-apply": True, "remediate-retrigger": "true"})  # fmt: skip
        env = runbook_env(tmp_path, assets, REMEDIATE_AZURE_CONFIG=str(lab.azure_config))
        vault = _payload(lab, job)["data"]["essentials"]["alertTargetIDs"][0]
        proc = run_runbook("remediate_from_alert.py", [json.dumps(["--vault-id", vault, "--job-id", job])], env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        summary = parse_summary(proc.stdout)
        assert summary["dry_run"] is False
        assert summary["hosts"] == {"win01": "changed"}
        assert "backup succeeded" in proc.stdout
        assert lab.state("win01").read()["machine"]["services"]["COMSysApp"]["status"] == "Running"
        assert lab.state("win02").read()["machine"]["services"]["COMSysApp"]["status"] != "Running"  # not alerted


def test_sweep_fixes_the_vaults_failed_vms_and_fails_the_job_when_one_stays_broken(tmp_path: Path) -> None:
    with azure_lab(tmp_path, windows={**BROKEN, "win04": "windows-comsysapp-unfixable"}) as lab:
        env = runbook_env(tmp_path, REMEDIATE_AZURE_CONFIG=str(lab.azure_config))
        args = ["--vault", "lab-vault", "--resource-group", "lab-rg", "--apply", "--retrigger", "--wait", "60"]
        proc = run_runbook("remediate_sweep.py", args, env)
        summary = parse_summary(proc.stdout)
        assert summary is not None, proc.stdout + proc.stderr
        assert summary["hosts"]["win01"] == summary["hosts"]["win02"] == "changed"
        assert "win03" not in summary["hosts"]  # its backups succeed
        assert summary["hosts"]["win04"] == "failed"
        assert summary["error_codes"]["win01"] == "ExtensionSnapshotFailedCOM"
        assert proc.returncode != 0 and "RunbookFailed" in proc.stderr
        assert "ERROR: remediate sweep: 1 failed: win04" in proc.stdout
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("win01:", "win02:"))]
        assert len(lines) == 2 and all("backup succeeded" in ln for ln in lines)
