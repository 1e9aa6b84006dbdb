"""The lab's ARM endpoint, through Microsoft's SDKs over HTTPS: reads, paging, long-running operations,
throttling and server errors with Retry-After, and backup jobs computed from the hosts' state."""

from __future__ import annotations

import pytest
from azure_lab import azure_lab, clients

from remediate.azure import backups

pytestmark = pytest.mark.timeout(120)


def test_vms_instance_view_nics_and_paging(tmp_path):
    machines = {"win01": "healthy", "win02": "windows-agent-stopped"}
    with azure_lab(tmp_path, windows=machines, linux={"lin01": "healthy"}) as lab:
        c = clients(lab)
        vms = {v.name: v for v in c.compute.virtual_machines.list("lab-rg")}
        assert sorted(vms) == ["lin01", "win01", "win02"]
        assert vms["lin01"].storage_profile.os_disk.os_type == "Linux"
        view = c.compute.virtual_machines.instance_view("lab-rg", "win02")
        assert view.vm_agent.statuses[0].code == "ProvisioningState/Unavailable"
        assert [e.name for e in view.extensions] == ["VMSnapshot"]
        ok = c.compute.virtual_machines.instance_view("lab-rg", "win01")
        assert ok.vm_agent.statuses[0].display_status == "Ready"
        nic = c.network.network_interfaces.get("lab-rg", "win01-nic")
        assert nic.ip_configurations[0].private_ip_address.startswith("10.0.0.")
        # Three VMs in pages of two: the SDK followed nextLink.
        lists = [r for r in lab.azure.requests() if r["path"].endswith("/virtualMachines")]
        assert len(lists) == 2


def test_failed_jobs_carry_the_pages_codes_and_a_retrigger_follows_the_host(tmp_path):
    windows = {"win01": "windows-comsysapp-stopped", "win02": "healthy"}
    with azure_lab(tmp_path, windows=windows, linux={"lin01": "linux-agent-stopped"}) as lab:
        c = clients(lab)
        rows = {r.vm: r for r in backups.failed_backups(c)}
        assert sorted(rows) == ["lin01", "win01"]  # win02's backup succeeded
        assert rows["win01"].error_code == "ExtensionSnapshotFailedCOM"
        assert rows["win01"].remediations == ["comsysapp", "msdtc"]
        assert rows["lin01"].error_code == "UserErrorGuestAgentStatusUnavailable"
        again = backups.trigger_backup(c, rows["win01"], sleep=lambda s: None)
        assert (again.status, again.error_code) == ("Failed", "ExtensionSnapshotFailedCOM")
        with lab.state("win01").edit() as data:
            data["machine"]["services"]["COMSysApp"]["status"] = "Running"
        fixed = backups.trigger_backup(c, rows["win01"], sleep=lambda s: None)
        assert fixed.succeeded, fixed.summary()
        assert fixed.summary() == "backup succeeded"
        assert [r.vm for r in backups.failed_backups(c)] == ["lin01"]


def test_throttling_and_server_errors_are_retried_with_their_retry_after(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab:
        c = clients(lab, retry_total=4)
        with lab.azure.edit() as data:
            data["faults"] = {"throttle": 2, "http_5xx": 1, "retry_after": 0}
        assert [v.name for v in c.compute.virtual_machines.list("lab-rg")] == ["win01"]
        statuses = [r["status"] for r in lab.azure.requests() if r["path"].endswith("/virtualMachines")]
        assert statuses == [429, 429, 500, 200]
        # A POST is retried too when the answer carries Retry-After (the backup trigger).
        (row,) = [r for r in backups.vaults(c)]
        item = next(iter(c.backup.backup_protected_items.list(row.name, row.resource_group)))
        fb = backups.FailedBackup(
            "win01",
            "lab-rg",
            None,
            "windows",
            row.name,
            row.resource_group,
            backups._container_of(item),
            item.name,
            "",
            None,
            None,
            "",
        )
        with lab.azure.edit() as data:
            data["faults"] = {"throttle": 1, "retry_after": 0}
        assert backups.trigger_backup(c, fb, sleep=lambda s: None).succeeded
        posts = [r["status"] for r in lab.azure.requests() if r["method"] == "POST"]
        assert posts == [429, 202]


def test_long_running_delete_polls_to_the_end(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab:
        c = clients(lab)
        c.compute.virtual_machine_extensions.begin_delete("lab-rg", "win01", "VMSnapshot").result()
        assert list(c.compute.virtual_machine_extensions.list("lab-rg", "win01").value or []) == []
        methods = [(r["method"], r["status"]) for r in lab.azure.requests()]
        assert ("DELETE", 202) in methods
        polls = [r for r in lab.azure.requests() if "/operationStatuses/" in r["path"]]
        assert len(polls) >= 2  # InProgress once, then Succeeded


def test_a_wrong_token_is_refused(tmp_path):
    from azure.core.exceptions import ClientAuthenticationError

    with azure_lab(tmp_path, windows={"win01": "healthy"}) as lab:
        bad = tmp_path / "bad-token"
        bad.write_text("not-the-token\n")
        c = clients(lab, token_file=str(bad))
        with pytest.raises(ClientAuthenticationError):
            list(c.compute.virtual_machines.list("lab-rg"))


def test_a_job_of_this_second_counts_as_the_latest(tmp_path):
    """The $filter's times have whole seconds: a job started this second (or by a clock a little ahead) is listed."""
    import time

    with azure_lab(tmp_path, windows={"win01": "windows-comsysapp-stopped"}) as lab:
        c = clients(lab)
        assert [r.vm for r in backups.failed_backups(c)] == ["win01"]
        with lab.azure.edit() as data:
            start = time.time() + 0.5
            data["jobs"].append(
                {
                    "name": "green",
                    "vm": "win01",
                    "status": "Completed",
                    "start": start,
                    "end": start + 1,
                    "user_triggered": True,
                    "polls": 2,
                    "error_code": None,
                }
            )
        assert backups.failed_backups(c) == []


def test_the_wait_for_a_new_backup_is_bounded(tmp_path):
    with azure_lab(tmp_path, windows={"win01": "windows-comsysapp-stopped"}) as lab:
        c = clients(lab)
        (row,) = backups.failed_backups(c)
        outcome = backups.trigger_backup(c, row, timeout=0, sleep=lambda s: None)
        assert outcome.status == "InProgress" and not outcome.succeeded
        assert "still running" in outcome.summary()
        # The VM's backup still runs: a second trigger now is refused with the page's code, nothing started.
        second = backups.trigger_backup(c, row, sleep=lambda s: None)
        assert (second.status, second.error_code) == ("NotStarted", "UserErrorBackupOperationInProgress")


def test_ready_made_machines_carry_azure_side_faults(tmp_path):
    from remediate.lab.azure.outcome import backup_error

    windows = {"win01": "windows-snapshot-extension-failed"}
    with azure_lab(tmp_path, windows=windows, linux={"lin01": "linux-snapshot-extension-stuck"}) as lab:
        arm = lab.azure
        assert backup_error(arm, arm.vm("lab-rg", "win01")) == "UserErrorVmProvisioningStateFailed"
        assert backup_error(arm, arm.vm("lab-rg", "lin01")) == "ExtensionStuckInDeletionState"
